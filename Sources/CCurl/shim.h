#ifndef KILN_CCURL_SHIM_H
#define KILN_CCURL_SHIM_H

#include <curl/curl.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>
#include <string.h>
#include <stdio.h>

// curl_easy_setopt / curl_multi_setopt / curl_easy_getinfo are variadic and cannot be
// called from Swift; these typed wrappers can.

static inline CURLcode kiln_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode kiln_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode kiln_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode kiln_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode kiln_easy_setopt_offset(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }

typedef int (*kiln_debug_callback)(CURL *handle, curl_infotype type, char *data, size_t size, void *userptr);
typedef size_t (*kiln_read_callback)(char *buffer, size_t size, size_t nitems, void *userdata);

static inline CURLcode kiln_easy_setopt_debug(CURL *h, kiln_debug_callback cb) { return curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, cb); }
static inline CURLcode kiln_easy_setopt_read(CURL *h, kiln_read_callback cb) { return curl_easy_setopt(h, CURLOPT_READFUNCTION, cb); }

static inline CURLMcode kiln_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

static inline CURLcode kiln_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode kiln_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

/// Looks up the MX records of `domain` with the system resolver (libresolv).
/// Writes one "preference host\n" line per record into `out` (NUL-terminated).
/// Returns the number of records, 0 when the domain has none, or -1 with `*herr` set
/// (HOST_NOT_FOUND: the domain does not exist; TRY_AGAIN: a temporary failure).
static inline int kiln_mx_lookup(const char *domain, char *out, size_t outlen, int *herr) {
    unsigned char answer[NS_PACKETSZ * 4];
    struct __res_state state;
    memset(&state, 0, sizeof(state));
    if (res_ninit(&state) != 0) { *herr = TRY_AGAIN; return -1; }
    int len = res_nquery(&state, domain, ns_c_in, ns_t_mx, answer, sizeof(answer));
    if (len < 0) { *herr = state.res_h_errno; res_nclose(&state); return -1; }
    res_nclose(&state);
    ns_msg msg;
    if (ns_initparse(answer, len, &msg) < 0) { *herr = NO_RECOVERY; return -1; }
    int count = ns_msg_count(msg, ns_s_an);
    size_t used = 0;
    int found = 0;
    if (outlen > 0) out[0] = 0;
    for (int i = 0; i < count; i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0) continue;
        if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3) continue;
        const unsigned char *rdata = ns_rr_rdata(rr);
        unsigned pref = ns_get16(rdata);
        char host[NS_MAXDNAME];
        if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rdata + 2, host, sizeof(host)) < 0) continue;
        int n = snprintf(out + used, outlen - used, "%u %s\n", pref, host);
        if (n < 0 || (size_t)n >= outlen - used) break;
        used += (size_t)n;
        found++;
    }
    return found;
}

#endif
