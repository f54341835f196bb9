/*
 * ngx_http_backend_jwt_verify.c: the caller's token (backend_jwt_verify).
 * The core verifies it; here it is found in the request, verified once per
 * request and location (in the access phase, or earlier when a variable
 * asks for a claim), and a refusal becomes 401 or 403 with RFC 6750's
 * WWW-Authenticate.
 */

#include "ngx_http_backend_jwt.h"


#define NGX_HTTP_BACKEND_JWT_CLAIM  "backend_jwt_in_claim_"


static ngx_str_t  ngx_http_backend_jwt_missing = ngx_string("Bearer");
static ngx_str_t  ngx_http_backend_jwt_invalid =
    ngx_string("Bearer error=\"invalid_token\"");
static ngx_str_t  ngx_http_backend_jwt_scope =
    ngx_string("Bearer error=\"insufficient_scope\"");


static void
ngx_http_backend_jwt_free_caller(void *data)
{
    bjwt_verified_free(data);
}


/* The credentials of "Authorization: Bearer <token>" (the scheme in any
 * case, RFC 9110 11.1), or an empty string. */
static ngx_str_t
ngx_http_backend_jwt_bearer(ngx_http_request_t *r)
{
    ngx_str_t         token;
    ngx_table_elt_t  *h;

    ngx_str_null(&token);
    h = r->headers_in.authorization;

    if (h == NULL || h->value.len < sizeof("Bearer ") - 1
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ", 7) != 0)
    {
        return token;
    }

    token.data = h->value.data + 7;
    token.len = h->value.len - 7;

    while (token.len && token.data[0] == ' ') {
        token.data++;
        token.len--;
    }

    return token;
}


/* Verifies the caller's token of this location once; the verdict is kept in
 * the request's ctx. */
static ngx_http_backend_jwt_ctx_t *
ngx_http_backend_jwt_check(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    int                          rc;
    ngx_str_t                    token;
    bjwt_verified               *caller;
    ngx_pool_cleanup_t          *cln;
    ngx_http_backend_jwt_ctx_t  *ctx;
    char                         err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ctx = ngx_http_backend_jwt_ctx(r);
    if (ctx == NULL || ctx->checked == jlcf->origin) {
        return ctx;
    }

    ctx->checked = jlcf->origin;
    ctx->caller = NULL;
    ctx->verdict = NGX_HTTP_UNAUTHORIZED;
    ctx->challenge = &ngx_http_backend_jwt_missing;
    ctx->unknown_key = 0;
    ngx_str_null(&ctx->refusal);

    if (jlcf->source == NULL) {
        token = ngx_http_backend_jwt_bearer(r);

    } else if (ngx_http_complex_value(r, jlcf->source, &token) != NGX_OK) {
        return NULL;
    }

    if (token.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "backend_jwt: no token: %s",
                      jlcf->source ? "the token= value is empty"
                      : r->headers_in.authorization
                        ? "\"Authorization\" holds no Bearer token"
                        : "no \"Authorization\" header");
        return ctx;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    rc = bjwt_verify(jlcf->verifier, (int64_t) ngx_time(), token.data,
                     token.len, &caller, err, sizeof(err));

    if (rc == BJWT_ERR_UNAVAILABLE) {
        /* no key to check the token with: the server's fault, not the
         * client's token (logged when no fetch brings one) */
        ctx->verdict = NGX_HTTP_SERVICE_UNAVAILABLE;
        ctx->challenge = NULL;

    } else if (rc != BJWT_OK) {
        ctx->challenge = &ngx_http_backend_jwt_invalid;
        ctx->unknown_key = (rc == BJWT_ERR_UNKNOWN_KEY);

        if (!ctx->unknown_key || jlcf->jwks_uri.len == 0 || ctx->refetched) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "backend_jwt: token refused: %s", err);
            return ctx;
        }
    }

    if (rc != BJWT_OK) {
        /* a fetch may bring its key: said only if the token stays refused */
        ctx->refusal.len = ngx_strlen(err);
        ctx->refusal.data = ngx_pnalloc(r->pool, ctx->refusal.len);
        if (ctx->refusal.data == NULL) {
            return NULL;
        }

        ngx_memcpy(ctx->refusal.data, err, ctx->refusal.len);
        return ctx;
    }

    cln->handler = ngx_http_backend_jwt_free_caller;
    cln->data = caller;

    ctx->caller = caller;
    ctx->verdict = NGX_OK;

    return ctx;
}


/* The caller's verified token in this location, or NULL. */
bjwt_verified *
ngx_http_backend_jwt_caller(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    ngx_http_backend_jwt_ctx_t  *ctx;

    if (jlcf->verifier == NULL) {
        return NULL;
    }

    ctx = ngx_http_backend_jwt_check(r, jlcf);

    return (ctx == NULL) ? NULL : ctx->caller;
}


static ngx_int_t
ngx_http_backend_jwt_refuse(ngx_http_request_t *r, ngx_int_t status,
    ngx_str_t *challenge)
{
    ngx_table_elt_t  *h;

    if (challenge == NULL) {
        return status;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value = *challenge;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    r->headers_out.www_authenticate = h;

    return status;
}


/*
 * Access phase: no valid token, 401; a backend_jwt_verify_require value
 * empty or "0", 403 (or 401); no key to verify with, 503. NGX_OK lets
 * "satisfy any" grant access; NGX_AGAIN waits for the JWK Set.
 */
ngx_int_t
ngx_http_backend_jwt_access_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_uint_t                        i;
    ngx_str_t                         value;
    ngx_http_backend_jwt_ctx_t       *ctx;
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);

    if (jlcf->verifier == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_backend_jwt_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_backend_jwt_keys(r, jlcf, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ctx->checked == jlcf->origin
        && ctx->verdict == NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        ctx->checked = NULL;    /* read early, before the keys came */
    }

    ctx = ngx_http_backend_jwt_check(r, jlcf);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* no key for the token (an unknown kid: the identity provider may have
     * rotated its keys): a fetch may bring it, which the request may wait
     * for, then verify again */
    if ((ctx->unknown_key || ctx->verdict == NGX_HTTP_SERVICE_UNAVAILABLE)
        && jlcf->jwks_uri.len)
    {
        rc = ngx_http_backend_jwt_keys_wait(r, jlcf, ctx);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ctx->verdict == NGX_HTTP_SERVICE_UNAVAILABLE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "backend_jwt: no verification key: %V; request not "
                      "forwarded", &ctx->refusal);

        if (ngx_http_backend_jwt_retry_after(r, ctx) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else if (ctx->verdict != NGX_OK && ctx->refusal.len) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "backend_jwt: token refused: %V", &ctx->refusal);
    }

    if (ctx->verdict != NGX_OK) {
        return ngx_http_backend_jwt_refuse(r, ctx->verdict, ctx->challenge);
    }

    for (i = 0; i < jlcf->nrequire; i++) {
        if (ngx_http_complex_value(r, jlcf->require[i], &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (value.len == 0 || (value.len == 1 && value.data[0] == '0')) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "backend_jwt: token refused: backend_jwt_verify_"
                          "require \"%V\" is empty or 0",
                          &jlcf->require[i]->value);

            return ngx_http_backend_jwt_refuse(r, jlcf->require_status[i],
                                               jlcf->require_status[i] == 403
                                               ? &ngx_http_backend_jwt_scope
                                               : &ngx_http_backend_jwt_invalid);
        }
    }

    return NGX_OK;
}


/* $backend_jwt_in_claim_NAME (data: the variable's name) and
 * $backend_jwt_in_payload (data 0). */
static ngx_int_t
ngx_http_backend_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                        *name = (ngx_str_t *) data;

    size_t                            len = 0, skip;
    bjwt_verified                    *caller;
    const unsigned char              *text;
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);
    caller = ngx_http_backend_jwt_caller(r, jlcf);
    skip = sizeof(NGX_HTTP_BACKEND_JWT_CLAIM) - 1;

    text = (caller == NULL) ? NULL
           : (name == NULL) ? bjwt_verified_payload(caller, &len)
           : bjwt_verified_claim(caller, (char *) name->data + skip,
                                 name->len - skip, &len);

    if (text == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) text;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_backend_jwt_add_verify_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    static ngx_str_t  claim = ngx_string(NGX_HTTP_BACKEND_JWT_CLAIM);
    static ngx_str_t  payload = ngx_string("backend_jwt_in_payload");

    /* not cacheable: each location verifies with its own settings */
    var = ngx_http_add_variable(cf, &claim,
                                NGX_HTTP_VAR_PREFIX|NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_backend_jwt_claim_variable;

    var = ngx_http_add_variable(cf, &payload, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_backend_jwt_claim_variable;

    return NGX_OK;
}
