/*
 * ngx_http_backend_jwt.h: what the files of the nginx module share.
 *
 * The module is glue: the Swift core (libbackendjwt.so, include/backend_jwt.h)
 * owns the settings, their defaults, inheritance and checks, claim mapping,
 * JSON, encoding and signing. These structures hold what C needs per request,
 * as the core computed it: compiled values, the header's hash, the signer.
 */

#ifndef NGX_HTTP_BACKEND_JWT_H
#define NGX_HTTP_BACKEND_JWT_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <backend_jwt.h>


#define NGX_HTTP_BACKEND_JWT_ERR_LEN  1024

/* the prefixes of $backend_jwt_in_claim_NAME and $backend_jwt_in_header_NAME */
#define NGX_HTTP_BACKEND_JWT_CLAIM   "backend_jwt_in_claim_"
#define NGX_HTTP_BACKEND_JWT_HEADER  "backend_jwt_in_header_"


/* The http block's: the core's configuration, the values it asked to compile
 * (by template index) and the JWK Set, rendered once. */
typedef struct {
    bjwt_config               *config;
    ngx_array_t                values;        /* ngx_http_complex_value_t * */
    ngx_str_t                  json;
    ngx_str_t                  etag;
    ngx_array_t                jwks_checks;   /* ngx_http_backend_jwt_jwks_uri_t,
                                                 checked once all is merged */
    ngx_flag_t                 used;          /* a directive of the module */
    ngx_atomic_t              *verdicts;      /* shared: by BJWT_VERIFIED or
                                                 BJWT_REFUSED_* */
    ngx_array_t                jwks_uris;     /* ngx_str_t: every
                                                 backend_jwt_verify_jwks */
    ngx_shm_zone_t            *jwks_zone;     /* their sets; NULL: none */
} ngx_http_backend_jwt_main_conf_t;


/* A backend_jwt_verify_jwks URI and the server whose location serves it. */
typedef struct {
    ngx_str_t                  uri;
    ngx_str_t                  place;         /* of the directive: file:line */
    ngx_http_core_srv_conf_t  *server;
} ngx_http_backend_jwt_jwks_uri_t;


/* A level: its settings in the core and, once merged, what a request gets. */
typedef struct {
    bjwt_level                *level;

    ngx_flag_t                 enable;
    ngx_str_t                  header;        /* len 0: no header */
    u_char                    *header_lc;
    ngx_uint_t                 header_hash;
    bjwt_signer               *signer;
    size_t                     max_size;
    const void                *origin;        /* one token per request */
    ngx_http_complex_value_t **values;        /* in mint order; NULL: unset */
    ngx_uint_t                 nvalues;
    size_t                     prefix;        /* "Bearer " before the token */
    u_char                    *scheme;

    bjwt_verifier             *verifier;      /* NULL: no verification */
    ngx_str_t                  jwks_uri;      /* len 0: key files only */
    ngx_str_t                  jwks_args;     /* its query string */
    ngx_str_t                  jwks_key;      /* both: the set's name */
    ngx_msec_t                 jwks_wait;     /* backend_jwt_verify_jwks_wait */
    ngx_http_complex_value_t  *source;        /* token=; NULL: Authorization */
    ngx_str_t                  jwks_place;    /* where it is set */
    ngx_flag_t                 drop_authorization;
    bjwt_rules                *rules;         /* NULL: none */
    ngx_http_complex_value_t **rule_values;   /* what bjwt_rules_check reads */
    ngx_uint_t                 nrule_values;
    ngx_str_t                  challenge[3];  /* by BJWT_CHALLENGE_* */
} ngx_http_backend_jwt_loc_conf_t;


/* What the module put into a request's headers: found again after an
 * internal redirect, which wipes the ctx below. */
typedef struct {
    ngx_http_request_t        *r;
    u_char                    *token;         /* the value's data */
} ngx_http_backend_jwt_sent_t;


/* Per request: the token of one origin, minted once for every reader. */
typedef struct {
    const void                *conf;          /* the origin it is for */
    const void                *stripped;      /* the origin client copies are
                                                 gone for (rewrite phase) */
    ngx_str_t                  token;
    ngx_int_t                  failed;        /* the mint's status: do not retry
                                                 and log twice */

    const void                *checked;       /* the origin the caller's token
                                                 was verified for */
    bjwt_verdict               verdict;       /* the core's */
    bjwt_verified             *caller;        /* when it passed */
    const void                *passed;        /* the level whose rules the
                                                 caller met: the gate is open */
    ngx_str_t                  lost;          /* a claim a variable could not
                                                 carry (ambiguous, unprintable):
                                                 nothing is minted after it */
    unsigned                   judged:1;      /* the verdict is counted */

    /* the JWK Set fetch this request waits for (the core's rules) */
    bjwt_jwks_wait             wait;
    unsigned                   fetcher:1;     /* it started a fetch */
    ngx_event_t               *wake;          /* its timer */
    ngx_http_event_handler_pt  read_handler;  /* the one before the wait */
    int64_t                    retry_after;   /* of a 503 for want of keys */
    ngx_str_t                  refusal;       /* logged unless a fetch helps */

    /* of the fetch subrequest itself: its body, counted */
    unsigned                   too_big:1;
    off_t                      received;
} ngx_http_backend_jwt_ctx_t;


extern ngx_module_t  ngx_http_backend_jwt_module;


/* ngx_http_backend_jwt_request.c: per request */
ngx_http_backend_jwt_ctx_t *ngx_http_backend_jwt_ctx(ngx_http_request_t *r);
ngx_int_t ngx_http_backend_jwt_strip_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_backend_jwt_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_backend_jwt_value(ngx_http_variable_value_t *v,
    u_char *data, size_t len);
ngx_int_t ngx_http_backend_jwt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

/* ngx_http_backend_jwt_verify.c: the caller's token */
bjwt_verified *ngx_http_backend_jwt_caller(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf);
ngx_int_t ngx_http_backend_jwt_gate(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf);
ngx_int_t ngx_http_backend_jwt_refuse(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, bjwt_verdict *verdict);
ngx_int_t ngx_http_backend_jwt_access_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_backend_jwt_preaccess_handler(ngx_http_request_t *r);
char *ngx_http_backend_jwt_check_jwks_uris(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf);
ngx_int_t ngx_http_backend_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
ngx_int_t ngx_http_backend_jwt_add_claim_sets(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf, size_t first);

/* ngx_http_backend_jwt_keys.c: the JWK Set of backend_jwt_verify_jwks */
ngx_int_t ngx_http_backend_jwt_keys(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx);
ngx_int_t ngx_http_backend_jwt_keys_wait(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx);
ngx_int_t ngx_http_backend_jwt_retry_after(ngx_http_request_t *r,
    ngx_http_backend_jwt_ctx_t *ctx);
ngx_int_t ngx_http_backend_jwt_keys_init(ngx_conf_t *cf);
ngx_uint_t ngx_http_backend_jwt_is_fetch(ngx_http_request_t *r);

/* ngx_http_backend_jwt_status.c: backend_jwt_status, its counters */
char *ngx_http_backend_jwt_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_backend_jwt_status_zone(ngx_conf_t *cf);
void ngx_http_backend_jwt_count(ngx_http_request_t *r,
    ngx_http_backend_jwt_ctx_t *ctx);
ngx_int_t ngx_http_backend_jwt_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
/* ngx_http_backend_jwt_zone.c: the sets in shared memory */
typedef struct ngx_http_backend_jwt_zone_s  ngx_http_backend_jwt_zone_t;

ngx_int_t ngx_http_backend_jwt_zone_add(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf);
ngx_http_backend_jwt_zone_t *ngx_http_backend_jwt_zone(ngx_http_request_t *r);
int ngx_http_backend_jwt_zone_decide(ngx_http_backend_jwt_zone_t *zone,
    ngx_log_t *log, bjwt_verifier *verifier, ngx_str_t *key, int miss,
    int64_t *fetch, int64_t *retry_after);
ngx_int_t ngx_http_backend_jwt_zone_running(ngx_http_backend_jwt_zone_t *zone,
    bjwt_verifier *verifier, ngx_str_t *key, int64_t fetch);
void ngx_http_backend_jwt_zone_finish(ngx_http_backend_jwt_zone_t *zone,
    ngx_log_t *log, bjwt_verifier *verifier, ngx_str_t *key, int64_t fetch,
    ngx_str_t *body, ngx_str_t *cache_control, u_char *failure, size_t len);
void ngx_http_backend_jwt_zone_give_up(ngx_http_backend_jwt_zone_t *zone,
    bjwt_verifier *verifier, ngx_str_t *key, int64_t fetch);

/* ngx_http_backend_jwt_content.c: what the module answers itself */
ngx_int_t ngx_http_backend_jwt_jwks_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_backend_jwt_status_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_backend_jwt_answer_handler(ngx_http_request_t *r);


#endif /* NGX_HTTP_BACKEND_JWT_H */
