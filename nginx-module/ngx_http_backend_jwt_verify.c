/*
 * ngx_http_backend_jwt_verify.c: the caller's token (backend_jwt_verify).
 * The core verifies it; here it is found in the request, verified once per
 * request and location (in the access phase, in the preaccess phase for
 * subrequests, which skip the access phase, before any token is minted, or
 * earlier when a variable asks for a claim), and a refusal becomes 401, 403
 * or 503 with the WWW-Authenticate the core wrote.
 */

#include "ngx_http_backend_jwt.h"


static ngx_int_t ngx_http_backend_jwt_verdict(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx);


static void
ngx_http_backend_jwt_free_caller(void *data)
{
    bjwt_verified_free(data);
}


/* Logs the core's line for a refusal: an error for a 503 (no key: the
 * server's fault), else info (the client's token). */
static void
ngx_http_backend_jwt_log_refusal(ngx_http_request_t *r, bjwt_verdict *verdict,
    ngx_str_t *line)
{
    ngx_uint_t  level;

    level = (verdict->status == NGX_HTTP_SERVICE_UNAVAILABLE)
            ? NGX_LOG_ERR : NGX_LOG_INFO;
    ngx_log_error(level, r->connection->log, 0, "backend_jwt: %V", line);
}


/* Verifies the caller's token of this location once; the verdict is kept in
 * the request's ctx. */
static ngx_http_backend_jwt_ctx_t *
ngx_http_backend_jwt_check(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    int                          source;
    ngx_str_t                    text, line;
    ngx_table_elt_t             *h;
    bjwt_verified               *caller;
    ngx_pool_cleanup_t          *cln;
    ngx_http_backend_jwt_ctx_t  *ctx;
    char                         err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ctx = ngx_http_backend_jwt_ctx(r);
    if (ctx == NULL || ctx->checked == jlcf->origin) {
        return ctx;
    }

    /* refused until the core says otherwise: an error below leaves no
     * verdict that passes */
    ctx->checked = jlcf->origin;
    ctx->caller = NULL;
    bjwt_verdict_of(BJWT_REFUSED_MISSING, &ctx->verdict);
    ngx_str_null(&ctx->refusal);

    /* the core finds the token in the Authorization header or token= */
    source = BJWT_TOKEN_AUTHORIZATION;
    h = r->headers_in.authorization;
    text = h ? h->value : (ngx_str_t) ngx_null_string;

    if (jlcf->source != NULL) {
        source = BJWT_TOKEN_VALUE;

        if (ngx_http_complex_value(r, jlcf->source, &text) != NGX_OK) {
            return NULL;
        }
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    if (bjwt_verify(jlcf->verifier, (int64_t) ngx_time(), source, text.data,
                    text.len, &caller, &ctx->verdict, err, sizeof(err))
        == BJWT_OK)
    {
        cln->handler = ngx_http_backend_jwt_free_caller;
        cln->data = caller;
        ctx->caller = caller;
        return ctx;
    }

    line.data = (u_char *) err;
    line.len = ngx_strlen(err);

    if (!ctx->verdict.refetch) {
        ngx_http_backend_jwt_log_refusal(r, &ctx->verdict, &line);
        return ctx;
    }

    /* a fetch may bring its key: said only if the token stays refused */
    ctx->refusal.data = ngx_pnalloc(r->pool, line.len);
    if (ctx->refusal.data == NULL) {
        return NULL;
    }

    ctx->refusal.len = line.len;
    ngx_memcpy(ctx->refusal.data, err, line.len);

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


ngx_int_t
ngx_http_backend_jwt_refuse(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, bjwt_verdict *verdict)
{
    ngx_table_elt_t  *h;

    if (verdict->status == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;      /* never an open refusal */
    }

    if (verdict->challenge < 0) {
        return verdict->status;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "WWW-Authenticate");
    h->value = jlcf->challenge[verdict->challenge];
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    r->headers_out.www_authenticate = h;

    return verdict->status;
}


/* The location's rules (backend_jwt_verify_require*), for a verified caller:
 * the templates evaluated here, the decision the core's. */
static ngx_int_t
ngx_http_backend_jwt_rules(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx)
{
    size_t          *lens;
    ngx_str_t        value;
    ngx_uint_t       i;
    const u_char   **values;
    char             err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    values = ngx_palloc(r->pool, (jlcf->nrule_values + 1) * sizeof(u_char *));
    lens = ngx_palloc(r->pool, (jlcf->nrule_values + 1) * sizeof(size_t));
    if (values == NULL || lens == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < jlcf->nrule_values; i++) {
        if (ngx_http_complex_value(r, jlcf->rule_values[i], &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        values[i] = value.data;
        lens[i] = value.len;
    }

    if (bjwt_rules_check(jlcf->rules, ctx->caller, values, lens,
                         jlcf->nrule_values, &ctx->verdict, err, sizeof(err))
        == BJWT_OK)
    {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "backend_jwt: %s", err);

    return ngx_http_backend_jwt_refuse(r, jlcf, &ctx->verdict);
}


/*
 * Whether the request may go on in this location: NGX_OK when the caller's
 * token verified and meets every rule; NGX_AGAIN while the JWK Set is
 * fetched; else the status to refuse with (401, 403, 503). Called from the
 * access phase (main requests), the preaccess phase (subrequests) and before
 * a token is minted or the check answered: the verdict is kept in the ctx.
 */
ngx_int_t
ngx_http_backend_jwt_gate(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    ngx_int_t                    rc;
    char                        *action;
    ngx_http_backend_jwt_ctx_t  *ctx;

    ctx = ngx_http_backend_jwt_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->passed == jlcf) {
        return NGX_OK;
    }

    /* what the error log's "while ..." says of this request meanwhile */
    action = r->connection->log->action;
    r->connection->log->action = "verifying the caller's token";

    rc = ngx_http_backend_jwt_keys(r, jlcf, ctx);
    if (rc == NGX_OK) {
        rc = ngx_http_backend_jwt_verdict(r, jlcf, ctx);
    }

    r->connection->log->action = action;

    if (rc == NGX_OK || (rc == ctx->verdict.status && rc != 0)) {
        ngx_http_backend_jwt_count(r, ctx);     /* backend_jwt_status */
    }

    return rc;
}


static ngx_int_t
ngx_http_backend_jwt_verdict(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->checked == jlcf->origin
        && ctx->verdict.status == NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        ctx->checked = NULL;    /* read early, before the keys came */
    }

    ctx = ngx_http_backend_jwt_check(r, jlcf);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* no key for the token (the identity provider may have rotated its
     * keys): a fetch may bring it, which the request may wait for, then
     * verify again */
    if (ctx->verdict.refetch) {
        rc = ngx_http_backend_jwt_keys_wait(r, jlcf, ctx);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ctx->refusal.len) {
        ngx_http_backend_jwt_log_refusal(r, &ctx->verdict, &ctx->refusal);

        if (ctx->verdict.status == NGX_HTTP_SERVICE_UNAVAILABLE
            && ngx_http_backend_jwt_retry_after(r, ctx) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_str_null(&ctx->refusal);

    if (ctx->verdict.status != 0 || ctx->caller == NULL) {
        return ngx_http_backend_jwt_refuse(r, jlcf, &ctx->verdict);
    }

    if (jlcf->rules != NULL) {
        rc = ngx_http_backend_jwt_rules(r, jlcf, ctx);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    ctx->passed = jlcf;

    return NGX_OK;
}


/*
 * Access phase (main requests): no valid token, 401; a rule not met, 403
 * (or 401); no key to verify with, 503. NGX_OK lets "satisfy any" grant
 * access; NGX_AGAIN waits for the JWK Set.
 */
ngx_int_t
ngx_http_backend_jwt_access_handler(ngx_http_request_t *r)
{
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);

    if (jlcf->verifier == NULL) {
        return NGX_DECLINED;
    }

    return ngx_http_backend_jwt_gate(r, jlcf);
}


/*
 * Preaccess phase, for subrequests only (auth_request, SSI, mirror, ...):
 * nginx skips the access phase for them, so the same check runs here.
 */
ngx_int_t
ngx_http_backend_jwt_preaccess_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);

    if (r == r->main || jlcf->verifier == NULL
        || ngx_http_backend_jwt_is_fetch(r))
    {
        return NGX_DECLINED;
    }

    rc = ngx_http_backend_jwt_gate(r, jlcf);

    return (rc == NGX_OK) ? NGX_DECLINED : rc;
}


/* Serves a claim or header member the core found, or says why not: a member
 * that cannot be carried is "not found", noted in the ctx so that no token is
 * minted after it in this request or its parents, and logged. */
static ngx_int_t
ngx_http_backend_jwt_found(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    int rc, const u_char *text, size_t len, ngx_str_t *name)
{
    ngx_http_backend_jwt_ctx_t  *ctx;

    if (rc == BJWT_CLAIM_FOUND) {
        return ngx_http_backend_jwt_value(v, (u_char *) text, len);
    }

    v->not_found = 1;

    if (rc == BJWT_CLAIM_ABSENT) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "backend_jwt: $%V is empty: %s", name,
                  (rc == BJWT_CLAIM_AMBIGUOUS)
                  ? "the caller's token has two members of that name in "
                    "different letter cases (backend_jwt_verify_claim_set "
                    "names one exactly)"
                  : "its value holds a control character");

    /* and in the requests above: a parent that mints may hold the claim by
     * another name (auth_request_set $user $backend_jwt_in_claim_sub) */
    for ( /* void */ ; r != NULL; r = r->parent) {
        ctx = ngx_http_backend_jwt_ctx(r);
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ctx->lost = *name;
    }

    return NGX_OK;
}


/* $backend_jwt_in_claim_NAME, $backend_jwt_in_header_NAME (data: the
 * variable's name) and $backend_jwt_in_payload (data 0). */
ngx_int_t
ngx_http_backend_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                        *name = (ngx_str_t *) data;

    int                               rc;
    size_t                            len = 0, skip;
    bjwt_verified                    *caller;
    const unsigned char              *text = NULL;
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);
    caller = ngx_http_backend_jwt_caller(r, jlcf);

    if (caller == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (name == NULL) {
        text = bjwt_verified_payload(caller, &len);
        rc = BJWT_CLAIM_FOUND;

    } else if (ngx_strncmp(name->data, NGX_HTTP_BACKEND_JWT_HEADER,
                           sizeof(NGX_HTTP_BACKEND_JWT_HEADER) - 1) == 0)
    {
        skip = sizeof(NGX_HTTP_BACKEND_JWT_HEADER) - 1;
        rc = bjwt_verified_header(caller, (char *) name->data + skip,
                                  name->len - skip, &text, &len);

    } else {
        skip = sizeof(NGX_HTTP_BACKEND_JWT_CLAIM) - 1;
        rc = bjwt_verified_claim(caller, (char *) name->data + skip,
                                 name->len - skip, &text, &len);
    }

    return ngx_http_backend_jwt_found(r, v, rc, text, len, name);
}


/* A variable of backend_jwt_verify_claim_set (data: its index). */
static ngx_int_t
ngx_http_backend_jwt_claim_set_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    int                                rc;
    size_t                             len = 0;
    ngx_str_t                          name;
    bjwt_verified                     *caller;
    const unsigned char               *text = NULL;
    ngx_http_backend_jwt_loc_conf_t   *jlcf;
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);
    jmcf = ngx_http_get_module_main_conf(r, ngx_http_backend_jwt_module);
    caller = ngx_http_backend_jwt_caller(r, jlcf);

    if (caller == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    rc = bjwt_verified_claim_set(caller, jmcf->config, data, &text, &len);
    name.data = (u_char *) bjwt_config_claim_set(jmcf->config, data,
                                                 &name.len);

    return ngx_http_backend_jwt_found(r, v, rc, text, len, &name);
}


/* Defines the variables of the backend_jwt_verify_claim_set directives from
 * index `first` on. */
ngx_int_t
ngx_http_backend_jwt_add_claim_sets(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf, size_t first)
{
    size_t                n, i;
    ngx_str_t             name;
    ngx_http_variable_t  *var;

    n = bjwt_config_claim_sets(jmcf->config);

    for (i = first; i < n; i++) {
        name.data = (u_char *) bjwt_config_claim_set(jmcf->config, i,
                                                     &name.len);

        /* not cacheable: each location verifies with its own settings */
        var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = ngx_http_backend_jwt_claim_set_variable;
        var->data = i;
    }

    return NGX_OK;
}
