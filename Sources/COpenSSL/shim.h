#ifndef KILN_COPENSSL_SHIM_H
#define KILN_COPENSSL_SHIM_H

// OpenSSL's libcrypto, for RSA signing only (DKIM rsa-sha256): on CPUs with AVX-512 IFMA
// its RSA is several times faster than BoringSSL's in swift-crypto. swift-crypto's
// BoringSSL symbols are prefixed, so the two libraries link side by side.
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/err.h>

/// Parses a DER private key (PKCS#1 RSAPrivateKey or PKCS#8); NULL when it is not one.
static inline EVP_PKEY *kiln_rsa_key_from_der(const unsigned char *der, long length) {
    const unsigned char *p = der;
    EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &p, length);
    if (key == NULL) { ERR_clear_error(); return NULL; }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) { EVP_PKEY_free(key); return NULL; }
    return key;
}

/// RSASSA-PKCS1-v1_5 over a SHA-256 digest (32 bytes): the signature (the key's size in
/// bytes) goes into `signature` of `capacity` bytes. Returns its length, or 0 on failure.
/// Safe to call from several threads at once with the same key.
static inline size_t kiln_rsa_sign_sha256(EVP_PKEY *key, const unsigned char *digest, unsigned char *signature, size_t capacity) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    if (ctx == NULL) { ERR_clear_error(); return 0; }
    size_t length = capacity;
    if (EVP_PKEY_sign_init(ctx) <= 0
        || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0
        || EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0
        || EVP_PKEY_sign(ctx, signature, &length, digest, 32) <= 0) {
        length = 0;
        ERR_clear_error();
    }
    EVP_PKEY_CTX_free(ctx);
    return length;
}

#endif
