/*
 * ngx_http_backend_jwt_request.c: per request: the token is minted after the
 * access phase, client copies of its header removed, $backend_jwt served.
 */

#include "ngx_http_backend_jwt.h"


ngx_http_backend_jwt_ctx_t *
ngx_http_backend_jwt_ctx(ngx_http_request_t *r)
{
    ngx_http_backend_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_backend_jwt_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_backend_jwt_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_backend_jwt_module);
    }

    return ctx;
}


/* Mints the token of this location: NGX_OK, NGX_ERROR, or NGX_DECLINED when
 * a claim of the caller's token that the token maps cannot be carried. */
static ngx_int_t
ngx_http_backend_jwt_mint(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx,
    bjwt_verified *caller, ngx_str_t *token)
{
    int                    rc;
    size_t                 i, n, total, bound, len, *lens;
    u_char                *buffer;
    ngx_str_t              value;
    const u_char         **values;
    char                   err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    /* the location's values, in the order the core's signer takes them */
    n = jlcf->nvalues;
    values = ngx_pcalloc(r->pool, (n + 1) * sizeof(u_char *));
    lens = ngx_pcalloc(r->pool, (n + 1) * sizeof(size_t));
    if (values == NULL || lens == NULL) {
        return NGX_ERROR;
    }

    total = 0;

    for (i = 0; i < n; i++) {
        if (jlcf->values[i] == NULL) {
            continue;
        }

        if (ngx_http_complex_value(r, jlcf->values[i], &value) != NGX_OK) {
            return NGX_ERROR;
        }

        values[i] = value.data;
        lens[i] = value.len;
        total += value.len;
    }

    /* a claim of the caller's that a variable could not carry, read now or
     * earlier in this request (a "set" or a "map" the values hold keeps what
     * it read, empty): no token that may lack it (the variable said why) */
    if (ctx->lost.len) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "backend_jwt: token refused: $%V cannot be carried "
                      "into the token minted for the backend", &ctx->lost);
        return NGX_DECLINED;
    }

    /* the caller's claims may be copied */
    bound = bjwt_signer_token_bound(jlcf->signer, total, caller);

    /* the header's scheme goes before the token, in the same buffer */
    buffer = ngx_pnalloc(r->pool, jlcf->prefix + bound);
    if (buffer == NULL) {
        return NGX_ERROR;
    }

    token->data = ngx_cpymem(buffer, jlcf->scheme, jlcf->prefix);

    rc = bjwt_signer_mint(jlcf->signer, (int64_t) ngx_time(), caller, values,
                          lens, n, token->data, bound, &len, jlcf->max_size,
                          err, sizeof(err));

    if (rc != BJWT_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "backend_jwt: no token, request not forwarded: %s",
                      err);
        return NGX_ERROR;
    }

    token->len = len;

    return NGX_OK;
}


/*
 * The token of this request in this location: minted on first use. A read
 * of $backend_jwt before the final location is chosen (a "set" in server{},
 * a location that rewrites) does not decide the token forwarded from another;
 * an "if" block shares its location's token.
 */
static ngx_str_t *
ngx_http_backend_jwt_token(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    ngx_http_backend_jwt_ctx_t  *ctx;

    ctx = ngx_http_backend_jwt_ctx(r);
    if (ctx == NULL) {
        return NULL;
    }

    if (ctx->conf != jlcf->origin) {
        /* where the caller's token is verified, nothing is minted unless it
         * passed (and nothing is kept: the keys may come later) */
        if (jlcf->verifier != NULL && ctx->passed != jlcf) {
            return NULL;
        }

        ctx->conf = jlcf->origin;
        ctx->failed = ngx_http_backend_jwt_mint(r, jlcf, ctx,
                                                ctx->caller, &ctx->token);
    }

    return ctx->failed ? NULL : &ctx->token;
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


/* The marker of the pool cleanup that records what the module sent. */
static void
ngx_http_backend_jwt_sent_cleanup(void *data)
{
}


/*
 * The record of the token the module put into r's headers, if any. Kept in
 * a pool cleanup, as the module's ctx is wiped on internal redirects: the
 * next location must still find (and drop) the token of the one before.
 */
static ngx_http_backend_jwt_sent_t *
ngx_http_backend_jwt_sent(ngx_http_request_t *r, ngx_uint_t create)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_backend_jwt_sent_t  *sent;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_backend_jwt_sent_cleanup) {
            sent = cln->data;

            if (sent->r == r) {     /* subrequests share the pool */
                return sent;
            }
        }
    }

    if (!create) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_backend_jwt_sent_t));
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_backend_jwt_sent_cleanup;
    sent = cln->data;
    sent->r = r;
    sent->token = NULL;

    return sent;
}


/*
 * Whether the header value `data` is a token the module sent for this
 * request or another one of its pool (a parent: a subrequest starts with its
 * parent's headers); with `data` NULL, whether there is any such token.
 */
static ngx_uint_t
ngx_http_backend_jwt_was_sent(ngx_http_request_t *r, u_char *data)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_backend_jwt_sent_t  *sent;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_backend_jwt_sent_cleanup) {
            sent = cln->data;

            if (sent->token != NULL
                && (data == NULL || sent->token == data))
            {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * Rebuilds headers_in without the tokens the module sent (was_sent), without
 * any client copy of the configured header, and without the caller's
 * Authorization where it is not to be forwarded (jlcf NULL: only the
 * former). A new list rather than an edit in place: a subrequest shares its
 * parent's list parts, which must not change under the parent. The caller's
 * token stays readable through headers_in.authorization.
 */
static ngx_int_t
ngx_http_backend_jwt_strip(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    ngx_uint_t                    i, any;
    ngx_list_t                    old;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *h, *copy;
    ngx_http_backend_jwt_sent_t  *sent;

    static u_char  authorization[] = "authorization";

    any = ngx_http_backend_jwt_was_sent(r, NULL);
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
            if ((any && ngx_http_backend_jwt_was_sent(r, h[i].value.data))
                || (jlcf != NULL && jlcf->enable && jlcf->header.len != 0
                    && ngx_http_backend_jwt_same_name(&h[i].key,
                                                      jlcf->header_lc,
                                                      jlcf->header.len))
                || (jlcf != NULL && jlcf->drop_authorization
                    && ngx_http_backend_jwt_same_name(&h[i].key,
                                                      authorization,
                                                      sizeof(authorization) - 1)))
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

    sent = ngx_http_backend_jwt_sent(r, 0);
    if (sent != NULL) {
        sent->token = NULL;
    }

    return NGX_OK;
}


/* Appends the token to a header list that is this request's own. */
static ngx_int_t
ngx_http_backend_jwt_add_header(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_str_t *token)
{
    ngx_table_elt_t              *h;
    ngx_http_backend_jwt_sent_t  *sent;

    if (jlcf->header.len == 0) {    /* backend_jwt_header off */
        return NGX_OK;
    }

    sent = ngx_http_backend_jwt_sent(r, 1);
    h = ngx_list_push(&r->headers_in.headers);
    if (sent == NULL || h == NULL) {
        return NGX_ERROR;
    }

    h->hash = jlcf->header_hash;
    h->key = jlcf->header;
    h->lowcase_key = jlcf->header_lc;
    h->value.data = token->data - jlcf->prefix;
    h->value.len = jlcf->prefix + token->len;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    sent->token = h->value.data;

    return NGX_OK;
}


/* Strips the header list and notes that it is this request's own now: the
 * token can be pushed onto it. */
static ngx_int_t
ngx_http_backend_jwt_own_list(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    ngx_http_backend_jwt_ctx_t  *ctx;

    ctx = ngx_http_backend_jwt_ctx(r);

    if (ctx == NULL || ngx_http_backend_jwt_strip(r, jlcf) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->stripped = jlcf->origin;

    return NGX_OK;
}


/*
 * Rewrite phase, before the rewrite module (a dynamic module's handler runs
 * first): the client's copies, tokens sent before in this request or by its
 * parent (a mirror, a location that was left) and a caller's Authorization
 * not to be forwarded are gone before return, rewrite, if, limit_req, deny,
 * auth_request or error_page can send the request on: no fallback location
 * forwards them.
 */
ngx_int_t
ngx_http_backend_jwt_strip_handler(ngx_http_request_t *r)
{
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);

    return ((!jlcf->enable && !jlcf->drop_authorization)
            || ngx_http_backend_jwt_own_list(r, jlcf) == NGX_OK)
           ? NGX_DECLINED : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * Precontent phase: after access (so auth_request_set values are there) and
 * before the content handler that builds the upstream request. Fails closed:
 * no token, no forwarding.
 */
ngx_int_t
ngx_http_backend_jwt_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_str_t                        *token;
    bjwt_verdict                      refusal;
    ngx_http_backend_jwt_ctx_t       *ctx;
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    if (ngx_http_backend_jwt_is_fetch(r)) {
        /* the module's own JWKS fetch, in a location that inherited
         * backend_jwt on: the identity provider gets no token */
        return NGX_DECLINED;
    }

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);

    if (!jlcf->enable) {
        if (jlcf->verifier != NULL
            && r->content_handler == ngx_http_backend_jwt_answer_handler)
        {
            /* backend_jwt_verify_answer answers for a caller that passed */
            rc = ngx_http_backend_jwt_gate(r, jlcf);
            if (rc != NGX_OK) {
                return rc;
            }
        }

        /* a token minted for the location this request was redirected
         * from (error_page, try_files), or for its parent (mirror), must
         * not reach this upstream */
        return (!ngx_http_backend_jwt_was_sent(r, NULL)
                || ngx_http_backend_jwt_strip(r, NULL) == NGX_OK)
               ? NGX_DECLINED : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a location that verifies mints for a caller that passed, whatever the
     * access phase decided ("satisfy any") or skipped (a subrequest) */
    if (jlcf->verifier != NULL) {
        rc = ngx_http_backend_jwt_gate(r, jlcf);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    token = ngx_http_backend_jwt_token(r, jlcf);
    ctx = ngx_http_get_module_ctx(r, ngx_http_backend_jwt_module);

    if (token == NULL && ctx != NULL && ctx->failed == NGX_DECLINED) {
        /* the caller's token is refused as malformed for this use (its
         * verdict, counted, stays) */
        bjwt_verdict_of(BJWT_REFUSED_MALFORMED, &refusal);
        return ngx_http_backend_jwt_refuse(r, jlcf, &refusal);
    }

    /* the rewrite phase removed the client's copies and made the header
     * list this request's own; were it skipped, that happens here */
    if (((ctx == NULL || ctx->stripped != jlcf->origin)
         && ngx_http_backend_jwt_own_list(r, jlcf) != NGX_OK)
        || token == NULL
        || ngx_http_backend_jwt_add_header(r, jlcf, token) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


/* A variable's value: `len` bytes at `data`, which live as long as r. */
ngx_int_t
ngx_http_backend_jwt_value(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->data = data;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* $backend_jwt: the token of this request in this location */
ngx_int_t
ngx_http_backend_jwt_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                        *token;
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);

    if (!jlcf->enable || ngx_http_backend_jwt_is_fetch(r)) {
        /* no token for the identity provider in the module's JWKS fetch */
        v->not_found = 1;
        return NGX_OK;
    }

    token = ngx_http_backend_jwt_token(r, jlcf);
    if (token == NULL) {
        ngx_http_backend_jwt_ctx_t  *ctx;

        ctx = ngx_http_get_module_ctx(r, ngx_http_backend_jwt_module);

        if (ctx == NULL || ctx->conf != jlcf->origin) {
            /* no caller verified here (yet): no token */
            v->not_found = 1;
            return NGX_OK;
        }

        return NGX_ERROR;
    }

    return ngx_http_backend_jwt_value(v, token->data, token->len);
}
