/*
 * ngx_http_backend_jwt.h: what the files of the nginx module share: the
 * configuration and request structures and the functions one file calls in
 * another. The Swift core's ABI is include/backend_jwt.h.
 */

#ifndef NGX_HTTP_BACKEND_JWT_H
#define NGX_HTTP_BACKEND_JWT_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <backend_jwt.h>


#define NGX_HTTP_BACKEND_JWT_ERR_LEN  512
#define NGX_HTTP_BACKEND_JWT_NBF_OFF  (-2)  /* not NGX_CONF_UNSET: off is set */
#define NGX_HTTP_BACKEND_JWT_NCMDS    21  /* entries of the command table */


/* Where a directive stood, for errors found only once levels are merged. */
typedef struct {
    ngx_str_t                  file;
    ngx_uint_t                 line;
} ngx_http_backend_jwt_where_t;


/* The http block's JWK Set: every signer's public key, rendered once. */
typedef struct {
    bjwt_jwks                 *jwks;
    ngx_str_t                  json;
    ngx_str_t                  etag;
} ngx_http_backend_jwt_main_conf_t;


/* A custom claim's value and where it was declared. */
typedef struct {
    ngx_http_complex_value_t   value;
    ngx_http_backend_jwt_where_t  where;
} ngx_http_backend_jwt_claim_t;


typedef struct {
    ngx_flag_t                 enable;
    ngx_http_backend_jwt_where_t  enable_where;

    ngx_int_t                  algorithm;     /* BJWT_ALG_* */
    ngx_int_t                  encoding;      /* BJWT_ENC_* */
    ngx_int_t                  ttl;           /* seconds */

    ngx_str_t                  header;        /* as configured; "" for off */
    u_char                    *header_lc;     /* lowercase, for headers_in */
    ngx_uint_t                 header_hash;

    bjwt_key                  *key;           /* a PEM key or an HMAC secret */
    ngx_http_backend_jwt_where_t  key_where;

    bjwt_cert                 *cert;
    ngx_http_backend_jwt_where_t  cert_where;

    ngx_int_t                  kid_mode;      /* BJWT_KID_* */
    ngx_str_t                  kid;

    ngx_http_complex_value_t  *issuer;
    ngx_http_complex_value_t  *subject;
    ngx_array_t               *audience;      /* ngx_http_complex_value_t */
    ngx_uint_t                 required;      /* BJWT_REQUIRE_*: if_empty=fail */
    ngx_int_t                  nbf_leeway;    /* NBF_OFF: no nbf */
    ngx_flag_t                 jti;
    size_t                     max_size;      /* the longest token sent */
    ngx_http_backend_jwt_where_t  max_size_where;
    ngx_int_t                  cache_size;    /* 0: off */
    int64_t                    cache_min_seconds;
    int64_t                    cache_min_percent;

    bjwt_claims               *claims;        /* names and types */
    ngx_array_t               *claim_values;  /* ngx_http_backend_jwt_claim_t */

    ngx_flag_t                 enforce;
    ngx_http_backend_jwt_where_t  enforce_where;

    ngx_flag_t                 jwks;          /* serves the JWK Set: never mints */

    /* the location whose token this level sends: itself, or for an "if" or
     * "limit_except" block the enclosing location (one request, one token) */
    void                      *origin;

    /* where each directive was set at this level, for backend_jwt_enforce */
    ngx_http_backend_jwt_where_t  set[NGX_HTTP_BACKEND_JWT_NCMDS];

    bjwt_signer               *signer;        /* built by merge when enabled */
} ngx_http_backend_jwt_loc_conf_t;


/* What the module put into a request's headers: found again after an
 * internal redirect, which wipes the ctx below. */
typedef struct {
    ngx_http_request_t        *r;
    u_char                    *token;         /* the value's data */
} ngx_http_backend_jwt_sent_t;


/* Per request: the token of one location, minted once for every reader. */
typedef struct {
    void                      *conf;          /* the origin it is for */
    void                      *stripped;      /* the origin client copies are
                                                 gone for (rewrite phase) */
    ngx_str_t                  token;
    ngx_uint_t                 failed;        /* do not retry and log twice */
} ngx_http_backend_jwt_ctx_t;



/* A directive's value parser in the core (the cmd->post of one-value
 * directives): BJWT_OK with the value in *out, or an error in err. */
typedef struct {
    int (*parse)(ngx_str_t *value, ngx_int_t *out, char *err, size_t cap);
} ngx_http_backend_jwt_parser_t;


extern ngx_module_t   ngx_http_backend_jwt_module;
extern ngx_command_t  ngx_http_backend_jwt_commands[];
extern ngx_http_backend_jwt_parser_t  ngx_http_backend_jwt_algorithm_parser;
extern ngx_http_backend_jwt_parser_t  ngx_http_backend_jwt_encoding_parser;
extern ngx_http_backend_jwt_parser_t  ngx_http_backend_jwt_ttl_parser;
extern ngx_uint_t  ngx_http_backend_jwt_require_iss;
extern ngx_uint_t  ngx_http_backend_jwt_require_sub;
extern ngx_uint_t  ngx_http_backend_jwt_require_aud;


/* ngx_http_backend_jwt_module.c: configuration life cycle */
void *ngx_http_backend_jwt_create_main_conf(ngx_conf_t *cf);
void *ngx_http_backend_jwt_create_loc_conf(ngx_conf_t *cf);
char *ngx_http_backend_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
ngx_int_t ngx_http_backend_jwt_init(ngx_conf_t *cf);
ngx_int_t ngx_http_backend_jwt_cleanup(ngx_conf_t *cf,
    ngx_pool_cleanup_pt handler, void *data);
void ngx_http_backend_jwt_free_key(void *data);
void ngx_http_backend_jwt_free_cert(void *data);
void ngx_http_backend_jwt_free_claims(void *data);

/* ngx_http_backend_jwt_request.c: per request */
ngx_int_t ngx_http_backend_jwt_strip_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_backend_jwt_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_backend_jwt_add_variables(ngx_conf_t *cf);

/* ngx_http_backend_jwt_jwks.c */
ngx_int_t ngx_http_backend_jwt_jwks_handler(ngx_http_request_t *r);

/* ngx_http_backend_jwt_directives.c: one handler per directive */
char *ngx_http_backend_jwt_enable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_signing_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_certificate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_key_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_jwks_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_parsed(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_value(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_claim(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_wso2_claims(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_not_before(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_flag(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_max_size(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_backend_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* NGX_HTTP_BACKEND_JWT_H */
