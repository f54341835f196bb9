/*
 * ngx_http_backend_jwt_jwks.c: the backend_jwt_jwks location handler.
 */

#include "ngx_http_backend_jwt.h"


/* backend_jwt_jwks: serves the http block's JWK Set (RFC 7517). */
ngx_int_t
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
