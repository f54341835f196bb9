/*
 * backend_jwt.h: the C ABI of the nginx-backend-jwt core (libbackendjwt.so).
 *
 * Conventions: every function returns BJWT_OK (0) or a non-zero status; on
 * failure a NUL-terminated message is written into `err` (at most `err_cap`
 * bytes, truncated if longer). Handles are opaque and paired with a _free.
 * Inputs are owned by the caller and may be freed once the call returns;
 * strings are (pointer, length) pairs and need not be NUL-terminated.
 * Nothing here keeps a pointer to caller memory, touches threads or logs.
 */
#ifndef BACKEND_JWT_H
#define BACKEND_JWT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    BJWT_OK = 0,
    BJWT_ERR_CONFIG = 1,   /* a directive value is invalid */
    BJWT_ERR_KEY = 2,      /* a key file cannot be read or used */
    BJWT_ERR_VALUE = 3,    /* a request value does not convert to its claim type */
    BJWT_ERR_SIGN = 4,     /* OpenSSL failed to sign */
    BJWT_ERR_SPACE = 5     /* the output buffer is too small */
};

/* Signing algorithms and token encodings, as parsed from directives. */
enum { BJWT_ALG_NONE = 0, BJWT_ALG_RS256 = 1 };
enum { BJWT_ENC_BASE64URL = 0, BJWT_ENC_BASE64 = 1 };

/* A private key loaded from a PEM file at configuration time. */
typedef struct bjwt_key bjwt_key;
/* The ordered custom claims (name and type) of one configuration level. */
typedef struct bjwt_claims bjwt_claims;
/* Everything constant about the tokens of one location: mints them. */
typedef struct bjwt_signer bjwt_signer;

/* --- directive parsing (called by the master while reading nginx.conf) --- */

/* `backend_jwt_signing_algorithm`: writes a BJWT_ALG_* into *alg. */
int bjwt_parse_algorithm(const char *s, size_t len, int *alg,
                         char *err, size_t err_cap);

/* `backend_jwt_encoding`: writes a BJWT_ENC_* into *enc. */
int bjwt_parse_encoding(const char *s, size_t len, int *enc,
                        char *err, size_t err_cap);

/* `backend_jwt_token_ttl`: seconds or nginx time ("1h", "90s", "1h30m"). */
int bjwt_parse_ttl(const char *s, size_t len, int64_t *seconds,
                   char *err, size_t err_cap);

/* `backend_jwt_header`: checks that nginx and backends accept the name. */
int bjwt_check_header_name(const char *s, size_t len,
                           char *err, size_t err_cap);

/* `backend_jwt_signing_key`: reads and parses a PEM private key file. */
int bjwt_key_load(const char *path, size_t len, bjwt_key **key,
                  char *err, size_t err_cap);
void bjwt_key_free(bjwt_key *key);

/* `backend_jwt_claim`: an empty claim list, then one call per directive.
 * `option` is the optional third argument ("type=int"); pass len 0 if absent. */
bjwt_claims *bjwt_claims_create(void);
int bjwt_claims_add(bjwt_claims *claims, const char *name, size_t name_len,
                    const char *option, size_t option_len,
                    char *err, size_t err_cap);
size_t bjwt_claims_count(const bjwt_claims *claims);
void bjwt_claims_free(bjwt_claims *claims);

/* The signer of a location, built once its configuration is merged.
 * `key` may be NULL only for BJWT_ALG_NONE; `claims` may be NULL (none).
 * The signer keeps its own references: key and claims may be freed after. */
int bjwt_signer_create(int alg, int enc, int64_t ttl, const bjwt_key *key,
                       const bjwt_claims *claims, bjwt_signer **signer,
                       char *err, size_t err_cap);
void bjwt_signer_free(bjwt_signer *signer);

/* --- per request (called by workers) --- */

/* An upper bound of the token length for values totalling `value_bytes`. */
size_t bjwt_signer_token_bound(const bjwt_signer *signer, size_t value_bytes);

/*
 * Mints one token at time `now` (seconds since the epoch) into `out`.
 * `values` holds 2 + bjwt_claims_count(claims) entries, in order: issuer,
 * subject, then each custom claim. A NULL or empty value is left out.
 * On success *out_len is the token length (no NUL is written).
 */
int bjwt_signer_mint(const bjwt_signer *signer, int64_t now,
                     const unsigned char *const *values,
                     const size_t *value_lens, size_t nvalues,
                     unsigned char *out, size_t out_cap, size_t *out_len,
                     char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* BACKEND_JWT_H */
