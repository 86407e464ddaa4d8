#ifndef KILN_CCURL_SHIM_H
#define KILN_CCURL_SHIM_H

#include <curl/curl.h>
#include <string.h>
#include <stdio.h>

// curl_easy_setopt / curl_multi_setopt / curl_easy_getinfo are variadic and cannot be
// called from Swift; these typed wrappers can.

static inline CURLcode kiln_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode kiln_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode kiln_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode kiln_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode kiln_easy_setopt_offset(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*kiln_read_callback)(char *buffer, size_t size, size_t nitems, void *userdata);

static inline CURLcode kiln_easy_setopt_read(CURL *h, kiln_read_callback cb) { return curl_easy_setopt(h, CURLOPT_READFUNCTION, cb); }
typedef curl_socket_t (*kiln_opensocket_callback)(void *clientp, curlsocktype purpose, struct curl_sockaddr *address);
typedef int (*kiln_closesocket_callback)(void *clientp, curl_socket_t item);
static inline CURLcode kiln_easy_setopt_opensocket(CURL *h, kiln_opensocket_callback cb) { return curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, cb); }
static inline CURLcode kiln_easy_setopt_closesocket(CURL *h, kiln_closesocket_callback cb) { return curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, cb); }

// Server reply lines reach the header callback (curl's pingpong layer passes every
// response line to it); the prerequest callback runs once the SMTP session is set up
// (greeting, EHLO, STARTTLS, AUTH), just before MAIL FROM.
typedef size_t (*kiln_header_callback)(char *buffer, size_t size, size_t nitems, void *userdata);
typedef int (*kiln_prereq_callback)(void *clientp, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port, int conn_local_port);
static inline CURLcode kiln_easy_setopt_header(CURL *h, kiln_header_callback cb) { return curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, cb); }
static inline CURLcode kiln_easy_setopt_prereq(CURL *h, kiln_prereq_callback cb) { return curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, cb); }

static inline CURLMcode kiln_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

static inline CURLcode kiln_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode kiln_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode kiln_easy_getinfo_offset(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }

#endif
