/*
 * ngx_http_backend_jwt_keys.c: the identity provider's JWK Set, fetched by a
 * subrequest to the location backend_jwt_verify_jwks names. The core keeps
 * the set of each worker and decides when to fetch (stale, unknown kid, at
 * most so often); here the fetch is made, one request runs it and the others
 * that need it wait for it, and its response is handed to the core.
 */

#include "ngx_http_backend_jwt.h"


/* how often a request waiting for another one's fetch looks again */
#define NGX_HTTP_BACKEND_JWT_WAIT_MS  10
/* and how long it waits at most (the fetch has its own proxy timeouts) */
#define NGX_HTTP_BACKEND_JWT_WAIT_MAX  60000


static ngx_str_t  ngx_http_backend_jwt_cache_control =
    ngx_string("Cache-Control");

static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;

static ngx_int_t ngx_http_backend_jwt_fetched(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);


/* The fetching request went away before its subrequest finished: no
 * verdict on the identity provider, so no backoff for the others. */
static void
ngx_http_backend_jwt_fetch_cleanup(void *data)
{
    ngx_http_backend_jwt_ctx_t  *ctx = data;

    if (ctx->fetch == NGX_HTTP_BACKEND_JWT_FETCH_RUNNING) {
        bjwt_verifier_jwks_fail(ctx->fetching, (int64_t) ngx_time(), NULL, 0);
        ctx->fetch = NGX_HTTP_BACKEND_JWT_FETCH_DONE;
    }
}


/* The most a fetch subrequest's body may have: the core's limit, or less
 * where the JWKS location's subrequest_output_buffer_size is smaller. */
static off_t
ngx_http_backend_jwt_jwks_limit(ngx_http_request_t *sr)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(sr, ngx_http_core_module);

    return ngx_min((off_t) clcf->subrequest_output_buffer_size,
                   (off_t) bjwt_jwks_max_body());
}


/* Whether r is the module's own JWK Set fetch: known by its post-subrequest
 * handler, which survives internal redirects (nginx clears module ctx). */
ngx_uint_t
ngx_http_backend_jwt_is_fetch(ngx_http_request_t *r)
{
    return r->post_subrequest != NULL
           && r->post_subrequest->handler == ngx_http_backend_jwt_fetched;
}


/*
 * The body of a fetch subrequest: what would not fit its in-memory buffer
 * goes no further (nginx would end the client's request for it), and the
 * fetch fails. Other requests pass untouched.
 */
static ngx_int_t
ngx_http_backend_jwt_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    off_t                        limit;
    ngx_buf_t                   *last;
    ngx_chain_t                 *cl, *out;
    ngx_http_backend_jwt_ctx_t  *ctx;

    if (!ngx_http_backend_jwt_is_fetch(r)) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = ngx_http_backend_jwt_ctx(r);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    limit = ngx_http_backend_jwt_jwks_limit(r);

    if (r->headers_out.content_length_n > limit) {
        ctx->too_big = 1;
    }

    for (cl = in; cl; cl = cl->next) {
        ctx->received += ngx_buf_size(cl->buf);
    }

    if (ctx->received > limit) {
        ctx->too_big = 1;
    }

    if (!ctx->too_big) {
        return ngx_http_next_body_filter(r, in);
    }

    /* consumed, so the upstream reuses its buffers; only the end goes on,
     * to an in-memory buffer sized without the length that is too much */
    r->headers_out.content_length_n = -1;
    last = NULL;

    for (cl = in; cl; cl = cl->next) {
        if (cl->buf->last_buf || cl->buf->last_in_chain) {
            last = cl->buf;
        }

        cl->buf->pos = cl->buf->last;
        cl->buf->file_pos = cl->buf->file_last;
    }

    if (last == NULL) {
        return NGX_OK;
    }

    out = ngx_alloc_chain_link(r->pool);
    if (out == NULL) {
        return NGX_ERROR;
    }

    out->buf = ngx_calloc_buf(r->pool);
    if (out->buf == NULL) {
        return NGX_ERROR;
    }

    out->buf->last_buf = last->last_buf;
    out->buf->last_in_chain = last->last_in_chain;
    out->buf->sync = 1;     /* an empty buffer that is not an error */
    out->next = NULL;

    return ngx_http_next_body_filter(r, out);
}


ngx_int_t
ngx_http_backend_jwt_keys_init(ngx_conf_t *cf)
{
    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_backend_jwt_body_filter;

    return NGX_OK;
}


/* The subrequest is over: its status, Cache-Control and body go to the
 * core, which keeps the set or says why not. */
static ngx_int_t
ngx_http_backend_jwt_fetched(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_backend_jwt_ctx_t *ctx = data;

    int                          status;
    size_t                       len;
    ngx_str_t                    body, cc;
    ngx_uint_t                   i;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *h;
    ngx_http_backend_jwt_ctx_t  *sub;
    char                         err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    if (ctx->fetch != NGX_HTTP_BACKEND_JWT_FETCH_RUNNING || rc == NGX_AGAIN) {
        return rc;
    }

    ctx->fetch = NGX_HTTP_BACKEND_JWT_FETCH_DONE;
    sub = ngx_http_get_module_ctx(sr, ngx_http_backend_jwt_module);

    /* nginx wakes the parent of a subrequest that is not in the background */
    if (sr->background && ngx_http_post_request(sr->parent, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    if (rc == NGX_HTTP_CLIENT_CLOSED_REQUEST || sr->connection->error) {
        bjwt_verifier_jwks_fail(ctx->fetching, (int64_t) ngx_time(), NULL, 0);
        return rc;
    }

    if (sub != NULL && sub->too_big) {
        len = ngx_snprintf((u_char *) err, sizeof(err), "the body is over %O "
                           "bytes (the JWKS location's subrequest_output_"
                           "buffer_size, at most %uz)",
                           ngx_http_backend_jwt_jwks_limit(sr),
                           bjwt_jwks_max_body())
              - (u_char *) err;
        bjwt_verifier_jwks_fail(ctx->fetching, (int64_t) ngx_time(), err, len);
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "backend_jwt: the JWK Set from \"%V\" is not used: %*s",
                      &sr->uri, len, err);
        return NGX_OK;
    }

    status = (rc == NGX_ERROR) ? 0
             : (rc >= NGX_HTTP_SPECIAL_RESPONSE) ? (int) rc
             : (int) sr->headers_out.status;

    ngx_str_null(&body);

    if (sr->out != NULL && sr->out->buf != NULL) {
        body.data = sr->out->buf->pos;
        body.len = sr->out->buf->last - sr->out->buf->pos;
    }

    ngx_str_null(&cc);

    for (part = &sr->headers_out.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].hash != 0 && cc.len == 0
                && h[i].key.len == ngx_http_backend_jwt_cache_control.len
                && ngx_strncasecmp(h[i].key.data,
                                   ngx_http_backend_jwt_cache_control.data,
                                   h[i].key.len) == 0)
            {
                cc = h[i].value;
            }
        }
    }

    if (bjwt_verifier_jwks_finish(ctx->fetching, status, cc.data, cc.len,
                                  body.data, body.len, (int64_t) ngx_time(),
                                  err, sizeof(err))
        != BJWT_OK)
    {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "backend_jwt: the JWK Set from \"%V\" is not used: %s",
                      &sr->uri, err);
    }

    /* the parent decides what the request gets: a failed fetch is its 503,
     * not an error that ends the connection */
    return (rc == NGX_ERROR) ? NGX_OK : rc;
}


/* Starts the fetch; the request's access phase runs again once it is over. */
static ngx_int_t
ngx_http_backend_jwt_fetch(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx)
{
    ngx_uint_t                   flags;
    ngx_http_request_t          *sr;
    ngx_pool_cleanup_t          *cln;
    ngx_http_post_subrequest_t  *ps;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ps == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ps->handler = ngx_http_backend_jwt_fetched;
    ps->data = ctx;

    /* a request that is not the connection's active one (a mirror, an SSI
     * include after the first) may never become it: a subrequest of its own
     * would wait for that, so the fetch runs in the background and wakes it
     * (ngx_http_backend_jwt_fetched) */
    flags = NGX_HTTP_SUBREQUEST_IN_MEMORY|NGX_HTTP_SUBREQUEST_WAITED;

    if (r != r->connection->data) {
        flags |= NGX_HTTP_SUBREQUEST_BACKGROUND;
    }

    if (ngx_http_subrequest(r, &jlcf->jwks_uri,
                            jlcf->jwks_args.len ? &jlcf->jwks_args : NULL,
                            &sr, ps, flags)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the identity provider gets none of the client's headers or body */
    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));
    sr->headers_in.content_length_n = -1;
    sr->headers_in.keep_alive_n = -1;
    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));

    if (sr->request_body == NULL
        || ngx_list_init(&sr->headers_in.headers, r->pool, 1,
                         sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_backend_jwt_fetch_cleanup;
    cln->data = ctx;

    ctx->fetch = NGX_HTTP_BACKEND_JWT_FETCH_RUNNING;
    ctx->fetching = jlcf->verifier;
    bjwt_verifier_jwks_begin(jlcf->verifier, (int64_t) ngx_time());

    return NGX_AGAIN;
}


/* The wait is over (the request's timer fired): its phases run again. The
 * request is posted rather than woken by the connection's events, which
 * reach only the active one: a waiting SSI include or mirror is not. */
static void
ngx_http_backend_jwt_waited(ngx_event_t *ev)
{
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_backend_jwt_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_backend_jwt_module);

    if (ctx != NULL && ctx->read_handler != NULL) {
        r->read_event_handler = ctx->read_handler;
        ctx->read_handler = NULL;
    }

    if (ngx_http_post_request(r, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


/* The request went away while it waited: its timer goes with it. */
static void
ngx_http_backend_jwt_wait_cleanup(void *data)
{
    ngx_event_t  *ev = data;

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }
}


/* Another request's fetch is running: look again shortly. */
static ngx_int_t
ngx_http_backend_jwt_wait(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    if (!ctx->waiting) {
        ctx->waiting = 1;
        ctx->wait_start = ngx_current_msec;

    } else if (ngx_current_msec - ctx->wait_start
               > NGX_HTTP_BACKEND_JWT_WAIT_MAX)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "backend_jwt: no verification key: the JWK Set from "
                      "\"%V\" is still being fetched after %d s; request not "
                      "forwarded", &jlcf->jwks_uri,
                      NGX_HTTP_BACKEND_JWT_WAIT_MAX / 1000);
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    if (ctx->wake == NULL) {
        ctx->wake = ngx_pcalloc(r->pool, sizeof(ngx_event_t));
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (ctx->wake == NULL || cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->wake->handler = ngx_http_backend_jwt_waited;
        ctx->wake->data = r;
        ctx->wake->log = r->connection->log;
        cln->handler = ngx_http_backend_jwt_wait_cleanup;
        cln->data = ctx->wake;
    }

    /* a client that goes away meanwhile ends the request (the connection's
     * read events reach the active request) */
    if (r->read_event_handler != ngx_http_test_reading) {
        ctx->read_handler = r->read_event_handler;
        r->read_event_handler = ngx_http_test_reading;
    }

    ngx_add_timer(ctx->wake, NGX_HTTP_BACKEND_JWT_WAIT_MS);

    return NGX_AGAIN;
}


/*
 * Before a token is verified: NGX_OK when the keys are there (or the
 * location has only key files), NGX_AGAIN while they are fetched, 503 when
 * there are none and none can be fetched now. `refetch`: the token named a
 * kid no key has, and the core allowed a new fetch, or one is running.
 */
ngx_int_t
ngx_http_backend_jwt_keys(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx,
    ngx_uint_t refetch)
{
    int64_t  now;
    char     err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    if (jlcf->jwks_uri.len == 0) {
        return NGX_OK;
    }

    switch (ctx->fetch) {

    case NGX_HTTP_BACKEND_JWT_FETCH_RUNNING:
        return NGX_AGAIN;

    case NGX_HTTP_BACKEND_JWT_FETCH_DONE:
        return NGX_OK;      /* one fetch per request: verify with its result */
    }

    now = (int64_t) ngx_time();

    if (bjwt_verifier_jwks_fetching(jlcf->verifier)) {
        if (ctx->waiting || refetch
            || bjwt_verifier_jwks_state(jlcf->verifier, now, err, sizeof(err))
               == BJWT_JWKS_UNAVAILABLE)
        {
            return ngx_http_backend_jwt_wait(r, jlcf, ctx);
        }

        return NGX_OK;      /* the keys there serve meanwhile */
    }

    ctx->waiting = 0;       /* a fetch waited for is over */

    switch (refetch ? BJWT_JWKS_FETCH
                    : bjwt_verifier_jwks_state(jlcf->verifier, now, err,
                                               sizeof(err)))
    {

    case BJWT_JWKS_FETCH:
        return ngx_http_backend_jwt_fetch(r, jlcf, ctx);

    case BJWT_JWKS_UNAVAILABLE:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "backend_jwt: no verification key: %s; request not "
                      "forwarded", err);
        return NGX_HTTP_SERVICE_UNAVAILABLE;

    default:
        return NGX_OK;
    }
}


/* The location nginx picks for `uri` below `pclcf`, as ngx_http_core_find_
 * location does for a request; *final: an exact or a regex match (no regex
 * is tried after it). */
static ngx_http_core_loc_conf_t *
ngx_http_backend_jwt_find_location(ngx_http_core_loc_conf_t *pclcf,
    ngx_str_t *uri, ngx_uint_t *final)
{
    u_char                         *p;
    size_t                          len, n;
    ngx_int_t                       rc;
    ngx_uint_t                      inner_final;
    ngx_http_core_loc_conf_t       *found, *inner;
    ngx_http_location_tree_node_t  *node;
#if (NGX_PCRE)
    ngx_http_core_loc_conf_t      **clcfp;
#endif

    p = uri->data;
    len = uri->len;
    found = NULL;
    node = pclcf->static_locations;
    *final = 0;

    while (node != NULL) {
        n = ngx_min(len, (size_t) node->len);
        rc = ngx_filename_cmp(p, node->name, n);

        if (rc != 0) {
            node = (rc < 0) ? node->left : node->right;
            continue;
        }

        if (len > (size_t) node->len) {
            if (node->inclusive) {
                found = node->inclusive;
                node = node->tree;
                p += n;
                len -= n;
                continue;
            }

            node = node->right;
            continue;
        }

        if (len == (size_t) node->len) {
            if (node->exact) {
                *final = 1;
                return node->exact;
            }

            found = node->inclusive;
            break;
        }

        node = node->left;
    }

    if (found != NULL) {
        inner = ngx_http_backend_jwt_find_location(found, uri, &inner_final);

        if (inner != NULL && inner_final) {
            *final = 1;
            return inner;
        }

        if (found->noregex) {
            return (inner != NULL) ? inner : found;
        }

        if (inner != NULL) {
            found = inner;
        }
    }

#if (NGX_PCRE)
    for (clcfp = pclcf->regex_locations; clcfp && *clcfp; clcfp++) {
        if (ngx_regex_exec((*clcfp)->regex->regex, uri, NULL, 0) >= 0) {
            *final = 1;
            inner = ngx_http_backend_jwt_find_location(*clcfp, uri,
                                                       &inner_final);
            return (inner != NULL) ? inner : *clcfp;
        }
    }
#endif

    return found;
}


/*
 * Every backend_jwt_verify_jwks URI must name an internal location of its
 * server: a typo would send the fetch to whatever location matches (the
 * application behind "location /"), and a public one would let clients see
 * and time the fetch.
 */
char *
ngx_http_backend_jwt_check_jwks_uris(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf)
{
    ngx_uint_t                        i, final;
    ngx_http_core_loc_conf_t         *root, *clcf;
    ngx_http_backend_jwt_jwks_uri_t  *uris;

    uris = jmcf->jwks_uris.elts;

    for (i = 0; i < jmcf->jwks_uris.nelts; i++) {
        root = uris[i].server->ctx->loc_conf[ngx_http_core_module.ctx_index];
        clcf = ngx_http_backend_jwt_find_location(root, &uris[i].uri, &final);

        if (clcf != NULL && clcf->internal) {
            continue;
        }

        if (clcf == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "backend_jwt_verify_jwks \"%V\" matches no location "
                          "of server \"%V\": add an internal location that "
                          "proxies to the identity provider's JWK Set in %V",
                          &uris[i].uri, &uris[i].server->server_name,
                          &uris[i].place);
        } else {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "backend_jwt_verify_jwks \"%V\" matches location "
                          "\"%V\" of server \"%V\", which is not internal: "
                          "the fetch would go where clients go (add "
                          "\"internal;\" to the JWK Set's location, or fix "
                          "the URI) in %V", &uris[i].uri, &clcf->name,
                          &uris[i].server->server_name, &uris[i].place);
        }

        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
