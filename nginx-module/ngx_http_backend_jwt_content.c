/*
 * ngx_http_backend_jwt_content.c: what the module answers itself: the JWK
 * Set (backend_jwt_jwks), the status report (backend_jwt_status) and the
 * check's 204 (backend_jwt_verify_answer).
 */

#include "ngx_http_backend_jwt.h"


/* A GET or HEAD, its body discarded: NGX_OK, or the status to end with. */
static ngx_int_t
ngx_http_backend_jwt_get(ngx_http_request_t *r)
{
    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    return ngx_http_discard_request_body(r);
}


/* Sends a 200 of `type` whose body is `len` bytes at `data`. */
static ngx_int_t
ngx_http_backend_jwt_send(ngx_http_request_t *r, char *type, u_char *data,
    size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* backend_jwt_jwks: serves the http block's JWK Set (RFC 7517). */
ngx_int_t
ngx_http_backend_jwt_jwks_handler(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_table_elt_t                   *etag, *cc;
    ngx_http_backend_jwt_main_conf_t  *jmcf;
#if (nginx_version < 1023000)
    ngx_table_elt_t                  **ccp;
#endif

    rc = ngx_http_backend_jwt_get(r);
    if (rc != NGX_OK) {
        return rc;
    }

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_backend_jwt_module);

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

    return ngx_http_backend_jwt_send(r, "application/json", jmcf->json.data,
                                     jmcf->json.len);
}


/* backend_jwt_status: the counters, as JSON or (?format=prometheus) in
 * Prometheus's text format, rendered by the core. */
ngx_int_t
ngx_http_backend_jwt_status_handler(ngx_http_request_t *r)
{
    int                                format;
    size_t                             len, cap;
    u_char                            *p;
    ngx_int_t                          rc;
    ngx_str_t                          arg;
    const char                        *type;
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    rc = ngx_http_backend_jwt_get(r);
    if (rc != NGX_OK) {
        return rc;
    }

    format = (ngx_http_arg(r, (u_char *) "format", 6, &arg) == NGX_OK)
             ? bjwt_status_format(arg.data, arg.len, &type)
             : bjwt_status_format(NULL, 0, &type);
    if (format < 0) {
        return NGX_HTTP_BAD_REQUEST;
    }

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_backend_jwt_module);

    /* the counters may grow between the calls: room to spare, and again */
    cap = 0;
    p = NULL;

    for ( ;; ) {
        len = bjwt_status_render(jmcf->config, format, p, cap);
        if (p != NULL && len <= cap) {
            break;
        }

        cap = len + 1024;
        p = ngx_pnalloc(r->pool, cap);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_backend_jwt_send(r, (char *) type, p, len);
}


/* backend_jwt_verify_answer: 204 once the caller's token verified (the
 * precontent handler ran the gate), for auth_request. */
ngx_int_t
ngx_http_backend_jwt_answer_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_http_backend_jwt_ctx_t       *ctx;
    ngx_http_backend_jwt_loc_conf_t  *jlcf;

    jlcf = ngx_http_get_module_loc_conf(r, ngx_http_backend_jwt_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_backend_jwt_module);

    if (jlcf->verifier == NULL || ctx == NULL || ctx->passed != jlcf) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;     /* never an open answer */
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}
