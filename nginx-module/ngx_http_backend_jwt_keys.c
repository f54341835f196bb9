/*
 * ngx_http_backend_jwt_keys.c: the identity provider's JWK Set, fetched by a
 * subrequest to the location backend_jwt_verify_jwks names and kept in
 * shared memory for every worker (ngx_http_backend_jwt_zone.c). The core
 * decides when to fetch (stale, unknown kid, at most so often, one fetch at
 * a time for the whole nginx); here the fetch runs as a background
 * subrequest, so the request that starts it is not held up while a set
 * serves, and a request whose token found no key waits for it, at most
 * backend_jwt_verify_jwks_wait in all.
 */

#include "ngx_http_backend_jwt.h"


/* One fetch: its request may end before it does, so it knows its set. */
typedef struct {
    ngx_http_backend_jwt_zone_t  *zone;
    bjwt_verifier                *verifier;
    ngx_str_t                     key;
    int64_t                       id;
    ngx_uint_t                    done;
} ngx_http_backend_jwt_fetch_t;


static ngx_str_t  ngx_http_backend_jwt_cache_control =
    ngx_string("Cache-Control");
static ngx_str_t  ngx_http_backend_jwt_retry =
    ngx_string("Retry-After");

static ngx_http_output_body_filter_pt  ngx_http_next_body_filter;

static ngx_int_t ngx_http_backend_jwt_fetched(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);


/* The request that started the fetch is gone and the fetch never reported
 * back (the connection was closed early): no verdict on the identity
 * provider, so no backoff for the others. */
static void
ngx_http_backend_jwt_fetch_cleanup(void *data)
{
    ngx_http_backend_jwt_fetch_t  *f = data;

    if (!f->done) {
        f->done = 1;
        ngx_http_backend_jwt_zone_give_up(f->zone, f->verifier, &f->key,
                                          f->id);
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


/* The subrequest is over: its status and body go to the core, which says
 * whether it is a set; the zone keeps it (or why not) for every worker. */
static ngx_int_t
ngx_http_backend_jwt_fetched(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_backend_jwt_fetch_t *f = data;

    int                          status;
    size_t                       len;
    u_char                      *failure;
    ngx_str_t                    body, cc;
    ngx_uint_t                   i;
    ngx_list_part_t             *part;
    ngx_table_elt_t             *h;
    ngx_http_backend_jwt_ctx_t  *sub;
    char                         err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    if (f->done || rc == NGX_AGAIN) {
        return rc;
    }

    f->done = 1;
    sub = ngx_http_get_module_ctx(sr, ngx_http_backend_jwt_module);

    if (rc == NGX_HTTP_CLIENT_CLOSED_REQUEST || sr->connection->error) {
        ngx_http_backend_jwt_zone_give_up(f->zone, f->verifier, &f->key,
                                          f->id);
        return rc;
    }

    ngx_str_null(&body);
    ngx_str_null(&cc);

    if (sub != NULL && sub->too_big) {
        len = ngx_snprintf((u_char *) err, sizeof(err) - 1, "the body is over "
                           "%O bytes (the JWKS location's subrequest_output_"
                           "buffer_size, at most %uz)",
                           ngx_http_backend_jwt_jwks_limit(sr),
                           bjwt_jwks_max_body())
              - (u_char *) err;
        err[len] = '\0';

    } else {
        status = (rc == NGX_ERROR) ? 0
                 : (rc >= NGX_HTTP_SPECIAL_RESPONSE) ? (int) rc
                 : (int) sr->headers_out.status;

        if (sr->out != NULL && sr->out->buf != NULL) {
            body.data = sr->out->buf->pos;
            body.len = sr->out->buf->last - sr->out->buf->pos;
        }

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

        err[0] = '\0';
        (void) bjwt_jwks_check(f->verifier, status, body.data, body.len,
                               err, sizeof(err));
    }

    failure = err[0] ? (u_char *) err : NULL;
    len = ngx_strlen(err);

    if (failure != NULL) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "backend_jwt: the JWK Set from \"%V\" is not used: %s",
                      &sr->uri, err);
    }

    ngx_http_backend_jwt_zone_finish(f->zone, sr->connection->log, f->verifier,
                                     &f->key, f->id, &body, &cc, failure, len);

    /* a failed fetch is the requests' 503, not an error that ends the
     * connection */
    return (rc == NGX_ERROR) ? NGX_OK : rc;
}


/* Starts fetch `id` as a background subrequest: the request goes on (or
 * waits for it) and may end before it does. */
static ngx_int_t
ngx_http_backend_jwt_fetch(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_zone_t *zone,
    int64_t id)
{
    ngx_http_request_t            *sr;
    ngx_pool_cleanup_t            *cln;
    ngx_http_post_subrequest_t    *ps;
    ngx_http_backend_jwt_fetch_t  *f;

    f = ngx_pcalloc(r->pool, sizeof(ngx_http_backend_jwt_fetch_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (f == NULL || ps == NULL || cln == NULL) {
        ngx_http_backend_jwt_zone_give_up(zone, jlcf->verifier,
                                          &jlcf->jwks_key, id);
        return NGX_ERROR;
    }

    f->zone = zone;
    f->verifier = jlcf->verifier;
    f->key = jlcf->jwks_key;
    f->id = id;

    /* from here on, the fetch is given up if it never reports back */
    cln->handler = ngx_http_backend_jwt_fetch_cleanup;
    cln->data = f;

    ps->handler = ngx_http_backend_jwt_fetched;
    ps->data = f;

    if (ngx_http_subrequest(r, &jlcf->jwks_uri,
                            jlcf->jwks_args.len ? &jlcf->jwks_args : NULL,
                            &sr, ps, NGX_HTTP_SUBREQUEST_IN_MEMORY
                                     |NGX_HTTP_SUBREQUEST_BACKGROUND)
        != NGX_OK)
    {
        return NGX_ERROR;
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
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* The wait is over (the request's own timer fired): its phases run again.
 * The request is posted rather than woken by the connection's events, which
 * reach only the connection's active request: a waiting mirror or SSI
 * include is not. */
static void
ngx_http_backend_jwt_waited(ngx_event_t *ev)
{
    ngx_http_request_t  *r = ev->data;

    ngx_http_backend_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_backend_jwt_module);

    if (ctx != NULL && ctx->read_handler != NULL) {
        r->read_event_handler = ctx->read_handler;
        ctx->read_handler = NULL;
    }

    r->write_event_handler = ngx_http_core_run_phases;

    if (ngx_http_post_request(r, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ngx_http_run_posted_requests(r->connection);
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


/* Looks again shortly. A client that goes away meanwhile ends its request
 * (as limit_req's delay: the connection's read events reach the active
 * request), unless the request runs the fetch: its connection carries a
 * fetch every worker may wait for, and its going away is noticed after. */
static ngx_int_t
ngx_http_backend_jwt_sleep(ngx_http_request_t *r,
    ngx_http_backend_jwt_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

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

    if (!ctx->fetcher && r->read_event_handler != ngx_http_test_reading) {
        ctx->read_handler = r->read_event_handler;
        r->read_event_handler = ngx_http_test_reading;

    } else if (ctx->fetcher) {
        r->read_event_handler = ngx_http_block_reading;
    }

    r->write_event_handler = ngx_http_request_empty_handler;
    ngx_add_timer(ctx->wake, BJWT_JWKS_POLL_MS);

    return NGX_AGAIN;
}


/* Asks the zone what to do, and starts the fetch the request is given. */
static int
ngx_http_backend_jwt_decide(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx,
    int miss, int64_t *fetch)
{
    int                           rc;
    ngx_http_backend_jwt_zone_t  *zone;

    zone = ngx_http_backend_jwt_zone(r);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_backend_jwt_zone_decide(zone, r->connection->log,
                                          jlcf->verifier, &jlcf->jwks_key,
                                          miss, fetch, &ctx->retry_after);

    if (rc == BJWT_JWKS_FETCH) {
        if (ngx_http_backend_jwt_fetch(r, jlcf, zone, *fetch) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx->fetcher = 1;
    }

    return rc;
}


/*
 * Before a token is verified: the worker's keys follow the shared set, and
 * a fetch starts when one is due (a stale set serves meanwhile). NGX_AGAIN
 * while the request waits for a fetch; once the wait is over, the token is
 * verified again.
 */
ngx_int_t
ngx_http_backend_jwt_keys(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx)
{
    int64_t                       fetch;
    ngx_int_t                     rc;
    ngx_http_backend_jwt_zone_t  *zone;

    if (jlcf->jwks_uri.len == 0) {
        return NGX_OK;
    }

    if (ctx->wait.waiting) {
        zone = ngx_http_backend_jwt_zone(r);
        rc = (zone == NULL) ? NGX_OK
             : ngx_http_backend_jwt_zone_running(zone, jlcf->verifier,
                                                 &jlcf->jwks_key,
                                                 ctx->wait.fetch);

        if (bjwt_jwks_wait_again(&ctx->wait,
                                 (rc == NGX_AGAIN) ? BJWT_FETCH_RUNNING
                                 : (rc == NGX_DECLINED) ? BJWT_FETCH_LOST
                                 : BJWT_FETCH_OVER,
                                 ngx_current_msec, jlcf->jwks_wait))
        {
            return ngx_http_backend_jwt_sleep(r, ctx);
        }

        ctx->checked = NULL;    /* verified again with what it brought */
    }

    if (ngx_http_backend_jwt_decide(r, jlcf, ctx, 0, &fetch) == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * After a token found no key (an unknown kid, or no usable set): NGX_AGAIN
 * when a fetch that may bring it runs (or is started now for an unknown
 * kid, at most once per backend_jwt_verify_jwks_refresh) and the request
 * may still wait; NGX_OK when the verdict stands.
 */
ngx_int_t
ngx_http_backend_jwt_keys_wait(ngx_http_request_t *r,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_http_backend_jwt_ctx_t *ctx)
{
    int      miss, decision;
    int64_t  fetch;

    miss = bjwt_jwks_wait_miss(&ctx->wait, &ctx->verdict);
    if (miss < 0) {
        return NGX_OK;
    }

    decision = ngx_http_backend_jwt_decide(r, jlcf, ctx, miss, &fetch);
    if (decision == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!bjwt_jwks_wait_start(&ctx->wait, decision, fetch, miss,
                              ngx_current_msec, jlcf->jwks_wait))
    {
        return NGX_OK;
    }

    return ngx_http_backend_jwt_sleep(r, ctx);
}


/* Retry-After on a 503 for want of keys: when the next fetch may run. */
ngx_int_t
ngx_http_backend_jwt_retry_after(ngx_http_request_t *r,
    ngx_http_backend_jwt_ctx_t *ctx)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = ngx_http_backend_jwt_retry;
    h->value.len = ngx_sprintf(h->value.data, "%L",
                               ngx_max(ctx->retry_after, 1))
                   - h->value.data;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
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

    uris = jmcf->jwks_checks.elts;

    for (i = 0; i < jmcf->jwks_checks.nelts; i++) {
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
