/*
 * ngx_http_backend_jwt_module: mints a signed JWT for every request of the
 * locations where `backend_jwt on` is set and hands it to the upstream in a
 * header (X-JWT-Assertion by default) and in $backend_jwt.
 *
 * The module stays thin: it collects directive arguments and request values;
 * validation, claim mapping, JSON, encoding and signing live in the Swift core
 * (libbackendjwt.so, include/backend_jwt.h). This file holds the module's
 * tables and its configuration life cycle (create, merge, init, cleanup).
 */

#include "ngx_http_backend_jwt.h"


#define NGX_HTTP_BACKEND_JWT_CONF                                            \
    (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF)

ngx_command_t  ngx_http_backend_jwt_commands[] = {

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
      ngx_http_backend_jwt_parsed,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, algorithm),
      &ngx_http_backend_jwt_algorithm_parser },

    { ngx_string("backend_jwt_encoding"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_parsed,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, encoding),
      &ngx_http_backend_jwt_encoding_parser },

    { ngx_string("backend_jwt_header"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("backend_jwt_token_ttl"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_parsed,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, ttl),
      &ngx_http_backend_jwt_ttl_parser },

    { ngx_string("backend_jwt_issuer"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE12,
      ngx_http_backend_jwt_value,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, issuer),
      &ngx_http_backend_jwt_require_iss },

    { ngx_string("backend_jwt_subject"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE12,
      ngx_http_backend_jwt_value,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, subject),
      &ngx_http_backend_jwt_require_sub },

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
      &ngx_http_backend_jwt_require_aud },

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

    { ngx_string("backend_jwt_max_size"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_TAKE1,
      ngx_http_backend_jwt_max_size,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_backend_jwt_loc_conf_t, max_size),
      NULL },

    { ngx_string("backend_jwt_cache"),
      NGX_HTTP_BACKEND_JWT_CONF|NGX_CONF_1MORE,
      ngx_http_backend_jwt_cache,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
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



void
ngx_http_backend_jwt_free_key(void *data)
{
    bjwt_key_free(data);
}


void
ngx_http_backend_jwt_free_cert(void *data)
{
    bjwt_cert_free(data);
}


static void
ngx_http_backend_jwt_free_jwks(void *data)
{
    bjwt_jwks_free(data);
}


void
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
ngx_int_t
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


void *
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


void *
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
     *     conf->max_size_where = { null, 0 };
     *     conf->kid = { 0, NULL };
     *     conf->enforce_where = { null, 0 };
     *     conf->required = 0;
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
    conf->max_size = NGX_CONF_UNSET_SIZE;
    conf->cache_size = NGX_CONF_UNSET;
    conf->enforce = NGX_CONF_UNSET;
    conf->claims = NGX_CONF_UNSET_PTR;
    conf->claim_values = NGX_CONF_UNSET_PTR;
    conf->jwks = NGX_CONF_UNSET;
    conf->origin = conf;

    return conf;
}


/*
 * backend_jwt_enforce: a level below an enforcing one may not set anything
 * but claims of its own; each directive it sets fails nginx -t at its line.
 */
static ngx_int_t
ngx_http_backend_jwt_check_enforced(ngx_conf_t *cf,
    ngx_http_backend_jwt_loc_conf_t *prev,
    ngx_http_backend_jwt_loc_conf_t *conf)
{
    ngx_uint_t                     i;
    ngx_command_t                 *cmd;
    ngx_http_backend_jwt_where_t  *w;

    for (i = 0; i < NGX_HTTP_BACKEND_JWT_NCMDS; i++) {
        cmd = &ngx_http_backend_jwt_commands[i];
        w = &conf->set[i];

        if (w->line == 0
            || cmd->set == ngx_http_backend_jwt_claim
            || cmd->set == ngx_http_backend_jwt_wso2_claims
            || cmd->set == ngx_http_backend_jwt_jwks)
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
    ngx_http_backend_jwt_loc_conf_t *prev,
    ngx_http_backend_jwt_loc_conf_t *conf)
{
    size_t                         conflict;
    ngx_uint_t                     i, n;
    ngx_array_t                   *values;
    bjwt_claims                   *merged;
    ngx_http_backend_jwt_claim_t  *claim, *own, *enforced;
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

    enforced = prev->claim_values->elts;
    n = prev->claim_values->nelts;

    values = ngx_array_create(cf->pool, n + conf->claim_values->nelts,
                              sizeof(ngx_http_backend_jwt_claim_t));
    if (values == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n + conf->claim_values->nelts; i++) {
        claim = ngx_array_push(values);
        if (claim == NULL) {
            return NGX_ERROR;
        }

        *claim = (i < n) ? enforced[i] : own[i - n];
    }

    conf->claims = merged;
    conf->claim_values = values;

    return NGX_OK;
}


/* Where this level set the directive whose handler is `set`, or NULL. */
static ngx_http_backend_jwt_where_t *
ngx_http_backend_jwt_set_at(ngx_http_backend_jwt_loc_conf_t *conf,
    char *(*set)(ngx_conf_t *cf, ngx_command_t *cmd, void *conf))
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_BACKEND_JWT_NCMDS; i++) {
        if (ngx_http_backend_jwt_commands[i].set == set
            && conf->set[i].line != 0)
        {
            return &conf->set[i];
        }
    }

    return NULL;
}


/*
 * A location that serves the JWK Set never mints, even under an enabled or
 * enforcing level; it has no other content handler.
 */
static ngx_int_t
ngx_http_backend_jwt_check_jwks(ngx_conf_t *cf,
    ngx_http_backend_jwt_loc_conf_t *conf, ngx_http_core_loc_conf_t *clcf)
{
    ngx_http_backend_jwt_where_t  *jwks, *on;

    jwks = ngx_http_backend_jwt_set_at(conf, ngx_http_backend_jwt_jwks);
    on = ngx_http_backend_jwt_set_at(conf, ngx_http_backend_jwt_enable);

    if (clcf->handler != ngx_http_backend_jwt_jwks_handler) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"backend_jwt_jwks\" cannot share a location with "
                      "another content handler (proxy_pass, fastcgi_pass, ...)"
                      " in %V:%ui", &jwks->file, jwks->line);
        return NGX_ERROR;
    }

    if (on != NULL && conf->enable == 1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"backend_jwt on\" in a location that serves the JWK "
                      "Set (backend_jwt_jwks): it never mints a token, remove "
                      "it in %V:%ui", &on->file, on->line);
        return NGX_ERROR;
    }

    conf->enable = 0;

    return NGX_OK;
}


/*
 * Under backend_jwt_enforce, what nginx -t can see that would keep the token
 * from the upstream: *_pass_request_headers off. Each of these modules'
 * location configuration starts with its ngx_http_upstream_conf_t.
 */
static ngx_int_t
ngx_http_backend_jwt_check_passed(ngx_conf_t *cf,
    ngx_http_backend_jwt_loc_conf_t *conf, ngx_http_core_loc_conf_t *clcf)
{
    ngx_uint_t                 i, j;
    ngx_module_t              *m;
    ngx_http_upstream_conf_t  *ucf;

    static char  *modules[][2] = {
        { "ngx_http_proxy_module", "proxy_pass_request_headers" },
        { "ngx_http_fastcgi_module", "fastcgi_pass_request_headers" },
        { "ngx_http_scgi_module", "scgi_pass_request_headers" },
        { "ngx_http_uwsgi_module", "uwsgi_pass_request_headers" }
    };

    for (i = 0; cf->cycle->modules[i]; i++) {
        m = cf->cycle->modules[i];

        for (j = 0; j < sizeof(modules) / sizeof(modules[0]); j++) {
            if (m->type != NGX_HTTP_MODULE
                || ngx_strcmp(m->name, modules[j][0]) != 0)
            {
                continue;
            }

            ucf = ((ngx_http_conf_ctx_t *) cf->ctx)->loc_conf[m->ctx_index];

            if (ucf != NULL && ucf->pass_request_headers == 0) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "backend_jwt: \"%s off\" in location \"%V\" "
                              "would not send the token that "
                              "\"backend_jwt_enforce on\" requires in %V:%ui",
                              modules[j][1], &clcf->name,
                              &conf->enforce_where.file,
                              conf->enforce_where.line);
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* backend_jwt_max_size must let the shortest token of the location through */
static ngx_int_t
ngx_http_backend_jwt_check_max_size(ngx_conf_t *cf,
    ngx_http_backend_jwt_loc_conf_t *conf)
{
    size_t                         min;
    ngx_http_backend_jwt_where_t  *where;

    min = bjwt_signer_token_min(conf->signer);

    if (conf->max_size >= min) {
        return NGX_OK;
    }

    where = (conf->max_size_where.line != 0) ? &conf->max_size_where
                                              : &conf->enable_where;

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "backend_jwt: backend_jwt_max_size %uz is less than the "
                  "shortest token this location makes (%uz bytes): no "
                  "request could be forwarded in %V:%ui",
                  conf->max_size, min, &where->file, where->line);

    return NGX_ERROR;
}


char *
ngx_http_backend_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_backend_jwt_loc_conf_t  *prev = parent;
    ngx_http_backend_jwt_loc_conf_t  *conf = child;

    int                                rc;
    bjwt_signer_params                 params;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_backend_jwt_where_t      *where;
    ngx_http_backend_jwt_main_conf_t  *jmcf;
    char                               err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* an "if" or "limit_except" block is part of its location */
    if (clcf->noname) {
        conf->origin = prev->origin;
    }

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

    /* if_empty= goes with the value it is given with */
    if (conf->issuer == NGX_CONF_UNSET_PTR) {
        conf->required |= prev->required & BJWT_REQUIRE_ISS;
    }

    if (conf->subject == NGX_CONF_UNSET_PTR) {
        conf->required |= prev->required & BJWT_REQUIRE_SUB;
    }

    if (conf->audience == NGX_CONF_UNSET_PTR) {
        conf->required |= prev->required & BJWT_REQUIRE_AUD;
    }

    ngx_conf_merge_ptr_value(conf->key, prev->key, NULL);
    ngx_conf_merge_ptr_value(conf->cert, prev->cert, NULL);
    ngx_conf_merge_value(conf->kid_mode, prev->kid_mode, BJWT_KID_THUMBPRINT);
    ngx_conf_merge_ptr_value(conf->issuer, prev->issuer, NULL);
    ngx_conf_merge_ptr_value(conf->subject, prev->subject, NULL);
    ngx_conf_merge_ptr_value(conf->audience, prev->audience, NULL);
    ngx_conf_merge_value(conf->nbf_leeway, prev->nbf_leeway,
                         NGX_HTTP_BACKEND_JWT_NBF_OFF);
    ngx_conf_merge_value(conf->jti, prev->jti, 1);

    /* nginx's own limit of a header line (large_client_header_buffers), so
     * an nginx backend with the default configuration accepts every token */
    if (conf->max_size == NGX_CONF_UNSET_SIZE) {
        conf->max_size_where = prev->max_size_where;
    }

    ngx_conf_merge_size_value(conf->max_size, prev->max_size, 8192);

    if (conf->cache_size == NGX_CONF_UNSET) {
        conf->cache_min_seconds = prev->cache_min_seconds;
        conf->cache_min_percent = prev->cache_min_percent;
    }

    ngx_conf_merge_value(conf->cache_size, prev->cache_size, 0);

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

    ngx_conf_merge_value(conf->jwks, 0, 0);     /* not inherited */

    if (conf->jwks && ngx_http_backend_jwt_check_jwks(cf, conf, clcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->enforce == 1 && conf->header.len != 0
        && ngx_http_backend_jwt_check_passed(cf, conf, clcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
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
        && prev->cache_size == conf->cache_size
        && prev->cache_min_seconds == conf->cache_min_seconds
        && prev->cache_min_percent == conf->cache_min_percent
        && prev->claims == conf->claims
        && prev->required == conf->required)
    {
        conf->signer = prev->signer;
        return (ngx_http_backend_jwt_check_max_size(cf, conf) == NGX_OK)
               ? NGX_CONF_OK : NGX_CONF_ERROR;
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
    params.nbf_leeway = (conf->nbf_leeway < 0) ? -1 : conf->nbf_leeway;
    params.jti = (int) conf->jti;
    params.cache_size = conf->cache_size;
    params.cache_min_seconds = conf->cache_min_seconds;
    params.cache_min_percent = conf->cache_min_percent;
    params.claims = conf->claims;
    params.required = (int) conf->required;

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
        != NGX_OK
        || ngx_http_backend_jwt_check_max_size(cf, conf) != NGX_OK)
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


ngx_int_t
ngx_http_backend_jwt_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt               *h;
    ngx_http_core_main_conf_t         *cmcf;
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_backend_jwt_strip_handler;

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
