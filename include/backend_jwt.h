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
    BJWT_ERR_SPACE = 5,    /* the output buffer is too small */
    BJWT_ERR_CERT = 6      /* a certificate cannot be read or is not for the key */
};

/* Signing algorithms (RFC 7518, RFC 8037) and token encodings. */
enum {
    BJWT_ALG_NONE = 0,
    BJWT_ALG_RS256 = 1, BJWT_ALG_RS384 = 2, BJWT_ALG_RS512 = 3,
    BJWT_ALG_PS256 = 4, BJWT_ALG_PS384 = 5, BJWT_ALG_PS512 = 6,
    BJWT_ALG_ES256 = 7, BJWT_ALG_ES384 = 8, BJWT_ALG_ES512 = 9,
    BJWT_ALG_HS256 = 10, BJWT_ALG_HS384 = 11, BJWT_ALG_HS512 = 12,
    BJWT_ALG_EDDSA = 13
};
enum { BJWT_ENC_BASE64URL = 0, BJWT_ENC_BASE64 = 1 };

/* Where the JOSE header's kid comes from (backend_jwt_key_id). */
enum { BJWT_KID_THUMBPRINT = 0, BJWT_KID_OFF = 1, BJWT_KID_CUSTOM = 2 };

/* A signing key loaded at configuration time: a PEM key or an HMAC secret. */
typedef struct bjwt_key bjwt_key;
/* An X.509 certificate of a signing key. */
typedef struct bjwt_cert bjwt_cert;
/* The JWK Set of an http block: the public keys backends verify with. */
typedef struct bjwt_jwks bjwt_jwks;
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

/* `backend_jwt_signing_key file [password_file=file]`: reads a PEM private
 * key. `option` is the optional second argument (len 0 if absent); a relative
 * password_file is taken from `conf_prefix`, as nginx does for its own files. */
int bjwt_key_load(const char *path, size_t len,
                  const char *option, size_t option_len,
                  const char *conf_prefix, size_t conf_prefix_len,
                  bjwt_key **key, char *err, size_t err_cap);

/* `backend_jwt_signing_secret file [encoding=base64|base64url|hex]`. */
int bjwt_secret_load(const char *path, size_t len,
                     const char *option, size_t option_len, bjwt_key **key,
                     char *err, size_t err_cap);
void bjwt_key_free(bjwt_key *key);

/* `backend_jwt_certificate file`: a PEM certificate of the signing key. */
int bjwt_cert_load(const char *path, size_t len, bjwt_cert **cert,
                   char *err, size_t err_cap);
void bjwt_cert_free(bjwt_cert *cert);

/* `backend_jwt_key_id string`: checks a custom kid. */
int bjwt_check_key_id(const char *s, size_t len, char *err, size_t err_cap);

/* `backend_jwt_claim name value [type=T] [separator=S] [if_empty=E]`: an
 * empty claim list, then one call per directive with its options (the
 * arguments after the value). */
bjwt_claims *bjwt_claims_create(void);
int bjwt_claims_add(bjwt_claims *claims, const char *name, size_t name_len,
                    const char *const *options, const size_t *option_lens,
                    size_t noptions, char *err, size_t err_cap);

/* `backend_jwt_wso2_claims NAME=VALUE...`: adds WSO2's claim set. Each claim
 * it adds has a value template for nginx to compile: bjwt_claims_template. */
int bjwt_claims_add_wso2(bjwt_claims *claims, const char *const *args,
                         const size_t *arg_lens, size_t nargs,
                         char *err, size_t err_cap);

/* The value template of claim `index` (0 if it has none): writes it into
 * `out` if it fits and returns its length. */
size_t bjwt_claims_template(const bjwt_claims *claims, size_t index,
                            unsigned char *out, size_t cap);

/* Whether the constant `value` of claim `index` (one without variables) can
 * ever make a token: an error if it never converts to the claim's type, or
 * is empty with if_empty=fail. */
int bjwt_claims_check_constant(const bjwt_claims *claims, size_t index,
                               const char *value, size_t len,
                               char *err, size_t err_cap);

/* Under `backend_jwt_enforce`: `upper`'s claims followed by `lower`'s, in a
 * new list. On a collision *conflict is the index of `lower`'s claim. */
int bjwt_claims_append(const bjwt_claims *upper, const bjwt_claims *lower,
                       bjwt_claims **merged, size_t *conflict,
                       char *err, size_t err_cap);
size_t bjwt_claims_count(const bjwt_claims *claims);
void bjwt_claims_free(bjwt_claims *claims);

/* `backend_jwt_cache size=N [min_remaining=TIME|P%] | off`: *size 0 is off;
 * the least remaining lifetime is *min_seconds, or *min_percent of the TTL
 * when *min_seconds is -1. */
int bjwt_parse_cache(const char *const *args, const size_t *arg_lens,
                     size_t nargs, int64_t *size, int64_t *min_seconds,
                     int64_t *min_percent, char *err, size_t err_cap);

/* The `if_empty=omit|fail` option of `backend_jwt_issuer`, `_subject` and
 * `_audience`: *fail is 1 for fail. */
int bjwt_parse_if_empty(const char *s, size_t len, int *fail,
                        char *err, size_t err_cap);

/* `backend_jwt_not_before on | off | time`: *leeway is -1 for off, 0 for
 * on, else the seconds nbf lies before iat. */
int bjwt_parse_not_before(const char *s, size_t len, int64_t *leeway,
                          char *err, size_t err_cap);

/* Registered claims that fail the request when empty (if_empty=fail). */
enum { BJWT_REQUIRE_ISS = 1, BJWT_REQUIRE_SUB = 2, BJWT_REQUIRE_AUD = 4 };

/* What a location signs with, once its configuration is merged. */
typedef struct {
    int                 alg;       /* BJWT_ALG_* */
    int                 enc;       /* BJWT_ENC_* */
    int64_t             ttl;       /* seconds */
    const bjwt_key     *key;       /* NULL only for BJWT_ALG_NONE */
    const bjwt_cert    *cert;      /* NULL: no x5t, x5t#S256 */
    int                 kid_mode;  /* BJWT_KID_* */
    const char         *kid;       /* for BJWT_KID_CUSTOM */
    size_t              kid_len;
    size_t              audiences; /* backend_jwt_audience values */
    int64_t             nbf_leeway;/* -1: no nbf */
    int                 jti;       /* 0: no jti */
    int64_t             cache_size;     /* 0: no token cache */
    int64_t             cache_min_seconds; /* -1: use cache_min_percent */
    int64_t             cache_min_percent;
    const bjwt_claims  *claims;    /* NULL: no custom claims */
    int                 required;  /* BJWT_REQUIRE_* bits */
} bjwt_signer_params;

/* The signer of a location. It keeps its own references: the handles in
 * `params` may be freed after. Fails if the key does not fit the algorithm
 * or the certificate is not for the key. */
int bjwt_signer_create(const bjwt_signer_params *params, bjwt_signer **signer,
                       char *err, size_t err_cap);
void bjwt_signer_free(bjwt_signer *signer);

/* --- the JWK Set (configuration time) --- */

bjwt_jwks *bjwt_jwks_create(void);
/* Publishes the public key of a signer (HMAC secrets are never published). */
int bjwt_jwks_add_signer(bjwt_jwks *jwks, const bjwt_signer *signer,
                         char *err, size_t err_cap);
/* `backend_jwt_jwks_key file [alg=NAME]`: a public or private PEM key whose
 * public half is published, such as a retired or an upcoming key. */
int bjwt_jwks_add_key_file(bjwt_jwks *jwks, const char *path, size_t len,
                           const char *option, size_t option_len,
                           char *err, size_t err_cap);
/* Writes the JWKS JSON into `out` if it fits; returns its length. */
size_t bjwt_jwks_json(const bjwt_jwks *jwks, unsigned char *out, size_t cap);
/* Writes the JSON's quoted ETag into `out` if it fits; returns its length. */
size_t bjwt_jwks_etag(const bjwt_jwks *jwks, unsigned char *out, size_t cap);
void bjwt_jwks_free(bjwt_jwks *jwks);

/* The length of the shortest token the signer makes (every value empty). */
size_t bjwt_signer_token_min(const bjwt_signer *signer);

/* --- per request (called by workers) --- */

/* An upper bound of the token length for values totalling `value_bytes`. */
size_t bjwt_signer_token_bound(const bjwt_signer *signer, size_t value_bytes);

/*
 * Mints one token at time `now` (seconds since the epoch) into `out`.
 * `values` holds 2 + audiences + bjwt_claims_count(claims) entries, in
 * order: issuer, subject, each audience, then each custom claim. A NULL or
 * empty value is left out (unless the claim's if_empty says otherwise).
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
