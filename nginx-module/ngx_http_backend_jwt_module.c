/*
 * ngx_http_backend_jwt_module: mints a signed JWT for every request of the
 * locations where `backend_jwt on` is set and hands it to the upstream in a
 * header (X-JWT-Assertion by default) and in $backend_jwt.
 *
 * The module stays thin: it collects directive arguments and request values;
 * validation, claim mapping, JSON, encoding and signing live in the Swift core
 * (libbackendjwt.so, include/backend_jwt.h).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <backend_jwt.h>


#define NGX_HTTP_BACKEND_JWT_ERR_LEN  512
#define NGX_HTTP_BACKEND_JWT_NCMDS    19  /* entries of the command table */


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

    ngx_str_t                  header;        /* as configured */
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
    ngx_int_t                  nbf_leeway;    /* -1: no nbf */
    ngx_flag_t                 jti;

    bjwt_claims               *claims;        /* names and types */
    ngx_array_t               *claim_values;  /* ngx_http_backend_jwt_claim_t */

    ngx_flag_t                 enforce;
    ngx_http_backend_jwt_where_t  enforce_where;

    /* where each directive was set at this level, for backend_jwt_enforce */
    ngx_http_backend_jwt_where_t  set[NGX_HTTP_BACKEND_JWT_NCMDS];

    bjwt_signer               *signer;        /* built by merge when enabled */
} ngx_http_backend_jwt_loc_conf_t;


/* Per request: the token of one location, minted once for every reader. */
typedef struct {
    void                      *conf;          /* the location it is for */
    ngx_str_t                  token;
    ngx_uint_t                 failed;        /* do not retry and log twice */
} ngx_http_backend_jwt_ctx_t;


static ngx_int_t ngx_http_backend_jwt_handler(ngx_http_request_t *r);
static ngx_str_t *ngx_http_backend_jwt_token(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf);
static ngx_int_t ngx_http_backend_jwt_mint(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_str_t *token);
static ngx_int_t ngx_http_backend_jwt_set_header(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_str_t *token);
static ngx_int_t ngx_http_backend_jwt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_backend_jwt_jwks_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_backend_jwt_add_variables(ngx_conf_t *cf);
static void *ngx_http_backend_jwt_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_backend_jwt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_backend_jwt_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_backend_jwt_init(ngx_conf_t *cf);
static char *ngx_http_backend_jwt_enable(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_backend_jwt_algorithm(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_backend_jwt_encoding(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_backend_jwt_ttl(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_backend_jwt_header(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_backend_jwt_signing_key(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_backend_jwt_certificate(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_backend_jwt_key_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_backend_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_backend_jwt_jwks_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_backend_jwt_value(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_backend_jwt_claim(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_backend_jwt_wso2_claims(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_backend_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_backend_jwt_not_before(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_backend_jwt_flag(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_backend_jwt_compile(ngx_conf_t *cf, ngx_str_t *text,
    ngx_http_complex_value_t *cv);


#define NGX_HTTP_BACKEND_JWT_CONF                                            \
    (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF)

static ngx_command_t  ngx_http_backend_jwt_commands[] = {

    { ngx_string("backend_jwt"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_FLAG,
      ngx_http_backend_jwt_enable,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, enable),
      NULL },

    { ngx_string("backend_jwt_signing_key"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE12,
      ngx_http_backend_jwt_signing_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_signing_secret"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE12,
      ngx_http_backend_jwt_signing_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_certificate"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_certificate,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_key_id"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_key_id,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_jwks"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_backend_jwt_jwks,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_jwks_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_backend_jwt_jwks_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_signing_algorithm"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_algorithm,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, algorithm),
      NULL },

    { ngx_string("backend_jwt_encoding"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_encoding,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, encoding),
      NULL },

    { ngx_string("backend_jwt_header"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_token_ttl"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_ttl,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, ttl),
      NULL },

    { ngx_string("backend_jwt_issuer"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_value,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, issuer),
      NULL },

    { ngx_string("backend_jwt_subject"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_value,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, subject),
      NULL },

    { ngx_string("backend_jwt_claim"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_2MORE,
      ngx_http_backend_jwt_claim,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_wso2_claims"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_1MORE,
      ngx_http_backend_jwt_wso2_claims,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_audience"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_1MORE,
      ngx_http_backend_jwt_audience,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_not_before"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_not_before,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_jti"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_FLAG,
      ngx_http_backend_jwt_flag,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, jti),
      NULL },

    { ngx_string("backend_jwt_enforce"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_FLAG,
      ngx_http_backend_jwt_flag,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, enforce),
      NULL },

      ngx_null_command
};

/* set[] has a slot for each command: keep the count in step with the table */
typedef char ngx_http_backend_jwt_ncmds_check[
    (sizeof(ngx_http_backend_jwt_commands) / sizeof(ngx_command_t) - 1
     == NGX_HTTP_BACKEND_JWT_NCMDS) ? 1 : -1];


static ngx_http_module_t  ngx_http_backend_jwt_module_ctx = {
    ngx_http_backend_jwt_add_variables,    /* preconfiguration */
    ngx_http_backend_jwt_init,             /* postconfiguration */

    ngx_http_backend_jwt_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_backend_jwt_create_loc_conf,  /* create location configuration */
    ngx_http_backend_jwt_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_backend_jwt_module = {
    NGX_MODULE_V1,
    &ngx_http_backend_jwt_module_ctx,      /* module context */
    ngx_http_backend_jwt_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_backend_jwt_variable_name =
    ngx_string("backend_jwt");


/*
 * Precontent phase: after access (so auth_request_set values are there) and
 * before the content handler that builds the upstream request. Fails closed:
 * no token, no forwarding.
 */
static ngx_int_t
ngx_http_backend_jwt_handler(ngx_http_request_t *r)
{
    ngx_str_t                        *token;
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);

    if (!jlcf->enable) {
        return NGX_DECLINED;
    }

    token = ngx_http_backend_jwt_token(r, jlcf);

    /* client copies go even without a token: an error_page fallback
     * location must not forward them either */
    if (ngx_http_backend_jwt_set_header(r, jlcf, token) != NGX_OK
        || token == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/*
 * The token of this request in this location: minted on first use. A read
 * of $backend_jwt before the final location is chosen (a "set" in server{},
 * a location that rewrites) does not decide the token forwarded from another.
 */
static ngx_str_t *
ngx_http_backend_jwt_token(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    ngx_http_backend_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_backend_jwt_module);

    if (ctx == NULL) {
        ctx = ngx_palloc(r->pool, sizeof(ngx_http_backend_jwt_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_backend_jwt_module);
        ctx->conf = NULL;
    }

    if (ctx->conf != jlcf) {
        ctx->conf = jlcf;
        ctx->failed = (ngx_http_backend_jwt_mint(r, jlcf, &ctx->token)
                       != NGX_OK);
    }

    return ctx->failed ? NULL : &ctx->token;
}


static ngx_int_t
ngx_http_backend_jwt_mint(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_str_t *token)
{
    int                        rc;
    size_t                         i, n, naud, total, bound, len, *lens;
    ngx_str_t                      value;
    const u_char                 **values;
    ngx_http_complex_value_t      *cv;
    ngx_http_backend_jwt_claim_t  *claim;
    char                       err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    /* issuer, subject, the audiences, then the custom claims, as
     * bjwt_signer_mint wants */
    naud = jlcf->audience ? jlcf->audience->nelts : 0;
    n = 2 + naud + (jlcf->claim_values ? jlcf->claim_values->nelts : 0);

    values = ngx_pcalloc(r->pool, n * sizeof(u_char *));
    lens = ngx_pcalloc(r->pool, n * sizeof(size_t));
    if (values == NULL || lens == NULL) {
        return NGX_ERROR;
    }

    total = 0;

    for (i = 0; i < n; i++) {
        if (i == 0) {
            cv = jlcf->issuer;
        } else if (i == 1) {
            cv = jlcf->subject;
        } else if (i < 2 + naud) {
            cv = (ngx_http_complex_value_t *) jlcf->audience->elts + i - 2;
        } else {
            claim = jlcf->claim_values->elts;
            cv = &claim[i - 2 - naud].value;
        }

        if (cv == NULL) {
            continue;
        }

        if (ngx_http_complex_value(r, cv, &value) != NGX_OK) {
            return NGX_ERROR;
        }

        values[i] = value.data;
        lens[i] = value.len;
        total += value.len;
    }

    bound = bjwt_signer_token_bound(jlcf->signer, total);

    token->data = ngx_pnalloc(r->pool, bound);
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    rc = bjwt_signer_mint(jlcf->signer, (int64_t) ngx_time(), values, lens, n,
                          token->data, bound, &len, err, sizeof(err));

    if (rc != BJWT_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "backend_jwt: no token, request not forwarded: %s",
                      err);
        return NGX_ERROR;
    }

    token->len = len;

    return NGX_OK;
}


/* Matches a header name ignoring case and "-" versus "_", as many backends
 * (CGI, WSGI, nginx with underscores_in_headers) read them alike. */
static ngx_uint_t
ngx_http_backend_jwt_same_name(ngx_str_t *name, u_char *lowcase,
    size_t len)
{
    u_char  c;
    size_t  i;

    if (name->len != len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = ngx_tolower(name->data[i]);

        if (c == '_') {
            c = '-';
        }

        if (c != lowcase[i]) {
            return 0;
        }
    }

    return 1;
}


/*
 * Rebuilds headers_in without any client copy of the header, then adds the
 * token if there is one. A new list rather than an edit in place: a
 * subrequest shares its parent's list parts, which must not change under it.
 */
static ngx_int_t
ngx_http_backend_jwt_set_header(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_str_t *token)
{
    ngx_uint_t        i;
    ngx_list_t        old;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *copy;

    old = r->headers_in.headers;

    if (ngx_list_init(&r->headers_in.headers, r->pool, 20,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (part = &old.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (ngx_http_backend_jwt_same_name(&h[i].key, jlcf->header_lc,
                                               jlcf->header.len))
            {
                continue;
            }

            copy = ngx_list_push(&r->headers_in.headers);
            if (copy == NULL) {
                return NGX_ERROR;
            }

            *copy = h[i];
        }
    }

    if (token == NULL) {
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = jlcf->header_hash;
    h->key = jlcf->header;
    h->lowcase_key = jlcf->header_lc;
    h->value = *token;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_backend_jwt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                        *token;
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);

    if (!jlcf->enable) {
        v->not_found = 1;
        return NGX_OK;
    }

    token = ngx_http_backend_jwt_token(r, jlcf);
    if (token == NULL) {
        return NGX_ERROR;
    }

    v->data = token->data;
    v->len = token->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* backend_jwt_jwks: serves the http block's JWK Set (RFC 7517). */
static ngx_int_t
ngx_http_backend_jwt_jwks_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_buf_t                         *b;
    ngx_chain_t                        out;
    ngx_table_elt_t                   *etag, *cc;
    ngx_http_backend_jwt_main_conf_t  *jmcf;
#if (nginx_version < 1023000)
    ngx_table_elt_t                  **ccp;
#endif

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_backend_jwt_module);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = jmcf->json.len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    /* the ETag lets the not_modified filter answer If-None-Match with 304 */
    etag = ngx_list_push(&r->headers_out.headers);
    cc = ngx_list_push(&r->headers_out.headers);
    if (etag == NULL || cc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    etag->hash = 1;
    ngx_str_set(&etag->key, "ETag");
    etag->value = jmcf->etag;
    r->headers_out.etag = etag;

    /* backends refetch within five minutes: the wait the README's rotation
     * steps give between publishing a key and signing with it */
    cc->hash = 1;
    ngx_str_set(&cc->key, "Cache-Control");
    ngx_str_set(&cc->value, "max-age=300");
#if (nginx_version >= 1023000)
    etag->next = NULL;
    cc->next = NULL;
    r->headers_out.cache_control = cc;
#else
    if (r->headers_out.cache_control.elts == NULL
        && ngx_array_init(&r->headers_out.cache_control, r->pool, 1,
                          sizeof(ngx_table_elt_t *))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ccp = ngx_array_push(&r->headers_out.cache_control);
    if (ccp == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ccp = cc;
#endif

    if (r->method == NGX_HTTP_HEAD) {
        r->header_only = 1;
        return ngx_http_send_header(r);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = jmcf->json.data;
    b->last = jmcf->json.data + jmcf->json.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_backend_jwt_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    /* not cacheable: after an internal redirect the new location mints anew */
    var = ngx_http_add_variable(cf, &ngx_http_backend_jwt_variable_name,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_backend_jwt_variable;

    return NGX_OK;
}


static void
ngx_http_backend_jwt_free_key(void *data)
{
    bjwt_key_free(data);
}


static void
ngx_http_backend_jwt_free_cert(void *data)
{
    bjwt_cert_free(data);
}


static void
ngx_http_backend_jwt_free_jwks(void *data)
{
    bjwt_jwks_free(data);
}


static void
ngx_http_backend_jwt_free_claims(void *data)
{
    bjwt_claims_free(data);
}


static void
ngx_http_backend_jwt_free_signer(void *data)
{
    bjwt_signer_free(data);
}


/* Frees a core handle with the configuration it belongs to (on reload). */
static ngx_int_t
ngx_http_backend_jwt_cleanup(ngx_conf_t *cf, ngx_pool_cleanup_pt handler,
    void *data)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        handler(data);
        return NGX_ERROR;
    }

    cln->handler = handler;
    cln->data = data;

    return NGX_OK;
}


static void *
ngx_http_backend_jwt_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    jmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_backend_jwt_main_conf_t));
    if (jmcf == NULL) {
        return NULL;
    }

    jmcf->jwks = bjwt_jwks_create();
    if (jmcf->jwks == NULL
        || ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_jwks,
                                        jmcf->jwks)
           != NGX_OK)
    {
        return NULL;
    }

    return jmcf;
}


static void *
ngx_http_backend_jwt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_backend_jwt_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_backend_jwt_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->enable_where = { null, 0 };
     *     conf->header = { 0, NULL };
     *     conf->header_lc = NULL;
     *     conf->key_where = { null, 0 };
     *     conf->cert_where = { null, 0 };
     *     conf->kid = { 0, NULL };
     *     conf->enforce_where = { null, 0 };
     *     conf->set = { { null, 0 }, ... };
     *     conf->signer = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->algorithm = NGX_CONF_UNSET;
    conf->encoding = NGX_CONF_UNSET;
    conf->ttl = NGX_CONF_UNSET;
    conf->key = NGX_CONF_UNSET_PTR;
    conf->cert = NGX_CONF_UNSET_PTR;
    conf->kid_mode = NGX_CONF_UNSET;
    conf->issuer = NGX_CONF_UNSET_PTR;
    conf->subject = NGX_CONF_UNSET_PTR;
    conf->audience = NGX_CONF_UNSET_PTR;
    conf->nbf_leeway = NGX_CONF_UNSET;
    conf->jti = NGX_CONF_UNSET;
    conf->enforce = NGX_CONF_UNSET;
    conf->claims = NGX_CONF_UNSET_PTR;
    conf->claim_values = NGX_CONF_UNSET_PTR;

    return conf;
}


/*
 * backend_jwt_enforce: a level below an enforcing one may not set anything
 * but claims of its own; each directive it sets fails nginx -t at its line.
 */
static ngx_int_t
ngx_http_backend_jwt_check_enforced(ngx_conf_t *cf,
    ngx_http_backend_jwt_loc_conf_t *prev, ngx_http_backend_jwt_loc_conf_t *conf)
{
    ngx_uint_t                     i;
    ngx_command_t                 *cmd;
    ngx_http_backend_jwt_where_t  *w;

    for (i = 0; i < NGX_HTTP_BACKEND_JWT_NCMDS; i++) {
        cmd = &ngx_http_backend_jwt_commands[i];
        w = &conf->set[i];

        if (w->line == 0
            || cmd->set == ngx_http_backend_jwt_claim
            || cmd->set == ngx_http_backend_jwt_wso2_claims)
        {
            continue;
        }

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V\" cannot be set here: \"backend_jwt_enforce on\" "
                      "in %V:%ui keeps the enclosing level's settings (only "
                      "claims can be added) in %V:%ui",
                      &cmd->name, &prev->enforce_where.file,
                      prev->enforce_where.line, &w->file, w->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Under backend_jwt_enforce: the enclosing claims, then this level's. */
static ngx_int_t
ngx_http_backend_jwt_append_claims(ngx_conf_t *cf,
    ngx_http_backend_jwt_loc_conf_t *prev, ngx_http_backend_jwt_loc_conf_t *conf)
{
    size_t                         conflict;
    ngx_uint_t                     i;
    ngx_array_t                   *values;
    bjwt_claims                   *merged;
    ngx_http_backend_jwt_claim_t  *claim, *own;
    char                           err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    own = conf->claim_values->elts;

    if (bjwt_claims_append(prev->claims, conf->claims, &merged, &conflict,
                           err, sizeof(err))
        != BJWT_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "backend_jwt: %s in %V:%ui",
                      err, &own[conflict].where.file, own[conflict].where.line);
        return NGX_ERROR;
    }

    if (ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_claims,
                                     merged)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    values = ngx_array_create(cf->pool,
                              prev->claim_values->nelts
                              + conf->claim_values->nelts,
                              sizeof(ngx_http_backend_jwt_claim_t));
    if (values == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < prev->claim_values->nelts + conf->claim_values->nelts; i++) {
        claim = ngx_array_push(values);
        if (claim == NULL) {
            return NGX_ERROR;
        }

        *claim = (i < prev->claim_values->nelts)
                 ? ((ngx_http_backend_jwt_claim_t *) prev->claim_values->elts)[i]
                 : own[i - prev->claim_values->nelts];
    }

    conf->claims = merged;
    conf->claim_values = values;

    return NGX_OK;
}


static char *
ngx_http_backend_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_backend_jwt_loc_conf_t  *prev = parent;
    ngx_http_backend_jwt_loc_conf_t  *conf = child;

    int                                rc;
    bjwt_signer_params                 params;
    ngx_http_backend_jwt_where_t      *where;
    ngx_http_backend_jwt_main_conf_t  *jmcf;
    char                               err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    if (prev->enforce == 1
        && ngx_http_backend_jwt_check_enforced(cf, prev, conf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->enforce == NGX_CONF_UNSET) {
        conf->enforce_where = prev->enforce_where;
    }

    ngx_conf_merge_value(conf->enforce, prev->enforce, 0);

    if (conf->enable == NGX_CONF_UNSET) {
        conf->enable_where = prev->enable_where;
    }

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_value(conf->algorithm, prev->algorithm, BJWT_ALG_RS256);
    ngx_conf_merge_value(conf->encoding, prev->encoding, BJWT_ENC_BASE64URL);
    ngx_conf_merge_value(conf->ttl, prev->ttl, 3600);

    if (conf->header.data == NULL) {
        conf->header = prev->header;
        conf->header_lc = prev->header_lc;
        conf->header_hash = prev->header_hash;
    }

    if (conf->header.data == NULL) {
        ngx_str_set(&conf->header, "X-JWT-Assertion");
        conf->header_lc = (u_char *) "x-jwt-assertion";
        conf->header_hash = ngx_hash_key(conf->header_lc, conf->header.len);
    }

    if (conf->key == NGX_CONF_UNSET_PTR) {
        conf->key_where = prev->key_where;
    }

    if (conf->cert == NGX_CONF_UNSET_PTR) {
        conf->cert_where = prev->cert_where;
    }

    if (conf->kid_mode == NGX_CONF_UNSET) {
        conf->kid = prev->kid;
    }

    ngx_conf_merge_ptr_value(conf->key, prev->key, NULL);
    ngx_conf_merge_ptr_value(conf->cert, prev->cert, NULL);
    ngx_conf_merge_value(conf->kid_mode, prev->kid_mode, BJWT_KID_THUMBPRINT);
    ngx_conf_merge_ptr_value(conf->issuer, prev->issuer, NULL);
    ngx_conf_merge_ptr_value(conf->subject, prev->subject, NULL);
    ngx_conf_merge_ptr_value(conf->audience, prev->audience, NULL);
    ngx_conf_merge_value(conf->nbf_leeway, prev->nbf_leeway, -1);
    ngx_conf_merge_value(conf->jti, prev->jti, 1);

    /* a level that declares claims replaces the inherited list, or adds to
     * it under backend_jwt_enforce */
    if (conf->claims == NGX_CONF_UNSET_PTR) {
        conf->claims = prev->claims;
        conf->claim_values = prev->claim_values;

    } else if (prev->enforce == 1 && prev->claims != NGX_CONF_UNSET_PTR
               && prev->claims != NULL
               && ngx_http_backend_jwt_append_claims(cf, prev, conf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->claims == NGX_CONF_UNSET_PTR) {
        conf->claims = NULL;
        conf->claim_values = NULL;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    /* a level that changes nothing that signs shares its parent's signer */
    if (prev->signer != NULL
        && prev->algorithm == conf->algorithm
        && prev->encoding == conf->encoding
        && prev->ttl == conf->ttl
        && prev->key == conf->key
        && prev->cert == conf->cert
        && prev->kid_mode == conf->kid_mode
        && prev->kid.data == conf->kid.data
        && prev->audience == conf->audience
        && prev->nbf_leeway == conf->nbf_leeway
        && prev->jti == conf->jti
        && prev->claims == conf->claims)
    {
        conf->signer = prev->signer;
        return NGX_CONF_OK;
    }

    params.alg = (int) conf->algorithm;
    params.enc = (int) conf->encoding;
    params.ttl = conf->ttl;
    params.key = conf->key;
    params.cert = conf->cert;
    params.kid_mode = (int) conf->kid_mode;
    params.kid = (char *) conf->kid.data;
    params.kid_len = conf->kid.len;
    params.audiences = conf->audience ? conf->audience->nelts : 0;
    params.nbf_leeway = conf->nbf_leeway;
    params.jti = (int) conf->jti;
    params.claims = conf->claims;

    rc = bjwt_signer_create(&params, &conf->signer, err, sizeof(err));

    if (rc != BJWT_OK) {
        /* point at the directive the error is about */
        where = (conf->key == NULL) ? &conf->enable_where
                : (rc == BJWT_ERR_CERT) ? &conf->cert_where
                : &conf->key_where;

        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "backend_jwt: %s in %V:%ui",
                      err, &where->file, where->line);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_signer,
                                     conf->signer)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_backend_jwt_module);

    if (bjwt_jwks_add_signer(jmcf->jwks, conf->signer, err, sizeof(err))
        != BJWT_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "backend_jwt: %s in %V:%ui",
                      err, &conf->key_where.file, conf->key_where.line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_backend_jwt_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt               *h;
    ngx_http_core_main_conf_t         *cmcf;
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_backend_jwt_handler;

    /* every signer exists now (locations are merged before this runs) */
    jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_backend_jwt_module);

    jmcf->json.len = bjwt_jwks_json(jmcf->jwks, NULL, 0);
    jmcf->etag.len = bjwt_jwks_etag(jmcf->jwks, NULL, 0);
    jmcf->json.data = ngx_pnalloc(cf->pool, jmcf->json.len);
    jmcf->etag.data = ngx_pnalloc(cf->pool, jmcf->etag.len);

    if (jmcf->json.data == NULL || jmcf->etag.data == NULL) {
        return NGX_ERROR;
    }

    bjwt_jwks_json(jmcf->jwks, jmcf->json.data, jmcf->json.len);
    bjwt_jwks_etag(jmcf->jwks, jmcf->etag.data, jmcf->etag.len);

    return NGX_OK;
}


/* Logs a core error for the directive being parsed, with its file:line. */
static char *
ngx_http_backend_jwt_conf_error(ngx_conf_t *cf, ngx_command_t *cmd,
    char *err)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive: %s",
                       &cmd->name, err);
    return NGX_CONF_ERROR;
}


static void
ngx_http_backend_jwt_where(ngx_conf_t *cf, ngx_http_backend_jwt_where_t *w)
{
    w->file = cf->conf_file->file.name;
    w->line = cf->conf_file->line;
}


/* Records where this level sets a directive, for backend_jwt_enforce. */
static void
ngx_http_backend_jwt_mark(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    ngx_http_backend_jwt_where_t  *w;

    w = &jlcf->set[cmd - ngx_http_backend_jwt_commands];

    if (w->line == 0) {
        ngx_http_backend_jwt_where(cf, w);
    }
}


static char *
ngx_http_backend_jwt_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    char  *rv;

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv == NGX_CONF_OK) {
        ngx_http_backend_jwt_where(cf, &jlcf->enable_where);
    }

    return rv;
}


static char *
ngx_http_backend_jwt_algorithm(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    int         alg;
    ngx_str_t  *value;
    ngx_int_t  *field;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    field = (ngx_int_t *) ((char *) conf + cmd->offset);
    if (*field != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (bjwt_parse_algorithm((char *) value[1].data, value[1].len, &alg, err,
                             sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    *field = alg;

    return NGX_CONF_OK;
}


static char *
ngx_http_backend_jwt_encoding(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    int         enc;
    ngx_str_t  *value;
    ngx_int_t  *field;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    field = (ngx_int_t *) ((char *) conf + cmd->offset);
    if (*field != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (bjwt_parse_encoding((char *) value[1].data, value[1].len, &enc, err,
                            sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    *field = enc;

    return NGX_CONF_OK;
}


static char *
ngx_http_backend_jwt_ttl(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    int64_t     seconds;
    ngx_str_t  *value;
    ngx_int_t  *field;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    field = (ngx_int_t *) ((char *) conf + cmd->offset);
    if (*field != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (bjwt_parse_ttl((char *) value[1].data, value[1].len, &seconds, err,
                       sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    *field = (ngx_int_t) seconds;

    return NGX_CONF_OK;
}


static char *
ngx_http_backend_jwt_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    ngx_str_t  *value;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (jlcf->header.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (bjwt_check_header_name((char *) value[1].data, value[1].len, err,
                               sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    jlcf->header_lc = ngx_pnalloc(cf->pool, value[1].len);
    if (jlcf->header_lc == NULL) {
        return NGX_CONF_ERROR;
    }

    jlcf->header = value[1];
    jlcf->header_hash = ngx_hash_strlow(jlcf->header_lc, value[1].data,
                                        value[1].len);

    return NGX_CONF_OK;
}


/* The second argument of a directive that may have one, else empty. */
static ngx_str_t
ngx_http_backend_jwt_option(ngx_conf_t *cf, ngx_uint_t i)
{
    ngx_str_t  *value, none = ngx_null_string;

    value = cf->args->elts;

    return (cf->args->nelts > i) ? value[i] : none;
}


/* backend_jwt_signing_key file [password_file=file] and
 * backend_jwt_signing_secret file [encoding=...]: the key a level signs with */
static char *
ngx_http_backend_jwt_signing_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    int         rc;
    bjwt_key   *key;
    ngx_str_t  *value, path, option;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (jlcf->key != NGX_CONF_UNSET_PTR) {
        return "is duplicate (a level signs with one key or secret)";
    }

    value = cf->args->elts;
    path = value[1];
    option = ngx_http_backend_jwt_option(cf, 2);

    /* relative to the configuration prefix, as ssl_certificate_key */
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cmd->name.len == sizeof("backend_jwt_signing_secret") - 1) {
        rc = bjwt_secret_load((char *) path.data, path.len,
                              (char *) option.data, option.len, &key,
                              err, sizeof(err));

    } else {
        rc = bjwt_key_load((char *) path.data, path.len,
                           (char *) option.data, option.len,
                           (char *) cf->cycle->conf_prefix.data,
                           cf->cycle->conf_prefix.len, &key,
                           err, sizeof(err));
    }

    if (rc != BJWT_OK) {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    if (ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_key, key)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    jlcf->key = key;
    ngx_http_backend_jwt_where(cf, &jlcf->key_where);

    return NGX_CONF_OK;
}


static char *
ngx_http_backend_jwt_certificate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    bjwt_cert  *cert;
    ngx_str_t  *value, path;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (jlcf->cert != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (bjwt_cert_load((char *) path.data, path.len, &cert, err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    if (ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_cert, cert)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    jlcf->cert = cert;
    ngx_http_backend_jwt_where(cf, &jlcf->cert_where);

    return NGX_CONF_OK;
}


/* backend_jwt_key_id string | off */
static char *
ngx_http_backend_jwt_key_id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    ngx_str_t  *value;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (jlcf->kid_mode != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3
        && ngx_strncasecmp(value[1].data, (u_char *) "off", 3) == 0)
    {
        jlcf->kid_mode = BJWT_KID_OFF;
        return NGX_CONF_OK;
    }

    if (bjwt_check_key_id((char *) value[1].data, value[1].len, err,
                          sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    jlcf->kid_mode = BJWT_KID_CUSTOM;
    jlcf->kid = value[1];

    return NGX_CONF_OK;
}


/* backend_jwt_jwks: this location serves the JWK Set */
static char *
ngx_http_backend_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_backend_jwt_jwks_handler;

    return NGX_CONF_OK;
}


/* backend_jwt_jwks_key file [alg=NAME]: publish one more public key */
static char *
ngx_http_backend_jwt_jwks_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_main_conf_t *jmcf = conf;

    ngx_str_t  *value, path, option;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    value = cf->args->elts;
    path = value[1];
    option = ngx_http_backend_jwt_option(cf, 2);

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (bjwt_jwks_add_key_file(jmcf->jwks, (char *) path.data, path.len,
                               (char *) option.data, option.len,
                               err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    return NGX_CONF_OK;
}


/* backend_jwt_issuer and backend_jwt_subject: a value with variables. */
static char *
ngx_http_backend_jwt_value(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                  *value;
    ngx_http_complex_value_t  **cv;

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    cv = (ngx_http_complex_value_t **) ((char *) conf + cmd->offset);
    if (*cv != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (*cv == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (ngx_http_backend_jwt_compile(cf, &value[1], *cv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* Compiles a value that may contain variables into `cv`. */
static ngx_int_t
ngx_http_backend_jwt_compile(ngx_conf_t *cf, ngx_str_t *text,
    ngx_http_complex_value_t *cv)
{
    ngx_http_compile_complex_value_t  ccv;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = text;
    ccv.complex_value = cv;

    return ngx_http_compile_complex_value(&ccv);
}


/* The directive's arguments from `first` on, as the core's C arrays. */
static ngx_int_t
ngx_http_backend_jwt_args(ngx_conf_t *cf, ngx_uint_t first,
    const char ***args, size_t **lens, size_t *n)
{
    ngx_uint_t   i;
    ngx_str_t   *value;

    value = cf->args->elts;
    *n = cf->args->nelts - first;
    *args = ngx_palloc(cf->pool, (*n + 1) * sizeof(char *));
    *lens = ngx_palloc(cf->pool, (*n + 1) * sizeof(size_t));
    if (*args == NULL || *lens == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < *n; i++) {
        (*args)[i] = (char *) value[first + i].data;
        (*lens)[i] = value[first + i].len;
    }

    return NGX_OK;
}


/* The level's claim list, created with its first claim. */
static ngx_int_t
ngx_http_backend_jwt_claims_init(ngx_conf_t *cf,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    if (jlcf->claims != NGX_CONF_UNSET_PTR) {
        return NGX_OK;
    }

    jlcf->claims = bjwt_claims_create();
    if (jlcf->claims == NULL
        || ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_claims,
                                        jlcf->claims)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    jlcf->claim_values = ngx_array_create(cf->pool, 4,
                                          sizeof(ngx_http_backend_jwt_claim_t));
    if (jlcf->claim_values == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Adds the value of the claim the core just declared. */
static ngx_int_t
ngx_http_backend_jwt_claim_value(ngx_conf_t *cf,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_str_t *text)
{
    ngx_http_backend_jwt_claim_t  *claim;

    claim = ngx_array_push(jlcf->claim_values);
    if (claim == NULL) {
        return NGX_ERROR;
    }

    ngx_http_backend_jwt_where(cf, &claim->where);

    return ngx_http_backend_jwt_compile(cf, text, &claim->value);
}


/* backend_jwt_claim name value [type=T] [separator=S] [if_empty=E] */
static char *
ngx_http_backend_jwt_claim(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    size_t       n, *lens;
    ngx_str_t   *value;
    const char **options;
    char         err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (ngx_http_backend_jwt_claims_init(cf, jlcf) != NGX_OK
        || ngx_http_backend_jwt_args(cf, 3, &options, &lens, &n) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (bjwt_claims_add(jlcf->claims, (char *) value[1].data, value[1].len,
                        options, lens, n, err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    if (ngx_http_backend_jwt_claim_value(cf, jlcf, &value[2]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* backend_jwt_wso2_claims apiname=A version=V [NAME=VALUE...] */
static char *
ngx_http_backend_jwt_wso2_claims(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    size_t       i, n, first, count, *lens;
    ngx_str_t    text;
    const char **args;
    char         err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (ngx_http_backend_jwt_claims_init(cf, jlcf) != NGX_OK
        || ngx_http_backend_jwt_args(cf, 1, &args, &lens, &n) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    first = bjwt_claims_count(jlcf->claims);

    if (bjwt_claims_add_wso2(jlcf->claims, args, lens, n, err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    count = bjwt_claims_count(jlcf->claims);

    /* the recipe gives each claim's value as text that may hold variables */
    for (i = first; i < count; i++) {
        text.len = bjwt_claims_template(jlcf->claims, i, NULL, 0);
        text.data = ngx_pnalloc(cf->pool, text.len);
        if (text.data == NULL) {
            return NGX_CONF_ERROR;
        }

        bjwt_claims_template(jlcf->claims, i, text.data, text.len);

        if (ngx_http_backend_jwt_claim_value(cf, jlcf, &text) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* backend_jwt_audience value...: a string, or an array when several */
static char *
ngx_http_backend_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    ngx_uint_t                 i;
    ngx_str_t                 *value;
    ngx_http_complex_value_t  *cv;

    if (jlcf->audience != NGX_CONF_UNSET_PTR) {
        return "is duplicate (give every audience in one directive)";
    }

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    jlcf->audience = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                      sizeof(ngx_http_complex_value_t));
    if (jlcf->audience == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        cv = ngx_array_push(jlcf->audience);
        if (cv == NULL
            || ngx_http_backend_jwt_compile(cf, &value[i], cv) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* backend_jwt_not_before on | off | time */
static char *
ngx_http_backend_jwt_not_before(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    int64_t     leeway;
    ngx_str_t  *value;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    if (jlcf->nbf_leeway != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    value = cf->args->elts;

    if (bjwt_parse_not_before((char *) value[1].data, value[1].len, &leeway,
                              err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    jlcf->nbf_leeway = (ngx_int_t) leeway;

    return NGX_CONF_OK;
}


/* on | off directives: nginx's own flag slot, plus where it was set */
static char *
ngx_http_backend_jwt_flag(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK) {
        ngx_http_backend_jwt_mark(cf, cmd, conf);

        if (cmd->offset == offsetof(ngx_http_backend_jwt_loc_conf_t, enforce))
        {
            ngx_http_backend_jwt_where(cf, &jlcf->enforce_where);
        }
    }

    return rv;
}
