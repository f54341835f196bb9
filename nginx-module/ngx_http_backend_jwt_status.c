/*
 * ngx_http_backend_jwt_status.c: backend_jwt_status, the counters it shows,
 * and the variables that say how a request's token fared
 * ($backend_jwt_in_error, $backend_jwt_in_kid, $backend_jwt_in_alg).
 *
 * The counters live in a shared memory zone of their own, made when the
 * configuration uses the module. Every worker adds to them with atomic adds,
 * never a lock (as stub_status): the module one verdict per request, the
 * core the rest (bjwt_config_metrics). The zone keeps its name and size, so
 * a reload takes it over with its counts, as limit_req does; the core
 * renders the report.
 */

#include "ngx_http_backend_jwt.h"


#define NGX_HTTP_BACKEND_JWT_ZONE_SIZE  (64 * 1024)


/* A JWK Set URI's counters, found again by the URI after a reload. */
typedef struct ngx_http_backend_jwt_uri_s  ngx_http_backend_jwt_uri_t;

struct ngx_http_backend_jwt_uri_s {
    ngx_http_backend_jwt_uri_t  *next;
    uint64_t                    *counters;
    size_t                       len;
    u_char                      *uri;
};


/* The zone's root: the layout it was made for, so another is never read
 * as this one. */
typedef struct {
    size_t                       metrics_size;
    size_t                       jwks_size;
    uint64_t                    *counters;
    ngx_http_backend_jwt_uri_t  *uris;
} ngx_http_backend_jwt_shctx_t;


static ngx_str_t  ngx_http_backend_jwt_zone_name =
    ngx_string("backend_jwt_status");


/* backend_jwt_status: this location shows the report. */
char *
ngx_http_backend_jwt_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_backend_jwt_status_handler) {
        return "is duplicate";
    }

    if (clcf->handler != NULL) {
        return "cannot be used in a location with another content handler";
    }

    clcf->handler = ngx_http_backend_jwt_status_handler;

    jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_backend_jwt_module);
    jmcf->used = 1;

    return NGX_CONF_OK;
}


/* The counters of a JWK Set URI: those it had before a reload, or new. */
static uint64_t *
ngx_http_backend_jwt_uri_counters(ngx_slab_pool_t *shpool,
    ngx_http_backend_jwt_shctx_t *sh, const char *uri, size_t len)
{
    size_t                       size;
    ngx_http_backend_jwt_uri_t  *u;

    for (u = sh->uris; u; u = u->next) {
        if (u->len == len && ngx_memcmp(u->uri, uri, len) == 0) {
            return u->counters;
        }
    }

    /* the entry, its counters (8-byte aligned after it), its URI */
    size = ngx_align(sizeof(ngx_http_backend_jwt_uri_t), 8) + sh->jwks_size;

    u = ngx_slab_calloc(shpool, size + len);
    if (u == NULL) {
        return NULL;
    }

    u->counters = (uint64_t *) ((u_char *) u
                                + ngx_align(sizeof(ngx_http_backend_jwt_uri_t),
                                            8));
    u->uri = (u_char *) u + size;
    u->len = len;
    ngx_memcpy(u->uri, uri, len);

    /* entries are never freed: the workers of the old configuration may
     * still count in them while they finish */
    u->next = sh->uris;
    sh->uris = u;

    return u->counters;
}


/* Takes over the zone's counters (a reload, same name and size) or makes
 * them, and hands them to the core. Runs in the master before workers fork. */
static ngx_int_t
ngx_http_backend_jwt_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_backend_jwt_main_conf_t *jmcf = shm_zone->data;

    size_t                         i, n, len;
    void                         **jwks;
    const char                    *uri;
    ngx_slab_pool_t               *shpool;
    ngx_http_backend_jwt_shctx_t  *sh;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;
    sh = (data || shm_zone->shm.exists) ? shpool->data : NULL;

    if (sh == NULL || sh->metrics_size != bjwt_metrics_size()
        || sh->jwks_size != bjwt_jwks_metrics_size())
    {
        sh = ngx_slab_calloc(shpool, sizeof(ngx_http_backend_jwt_shctx_t));
        if (sh == NULL) {
            return NGX_ERROR;
        }

        sh->metrics_size = bjwt_metrics_size();
        sh->jwks_size = bjwt_jwks_metrics_size();

        sh->counters = ngx_slab_calloc(shpool, sh->metrics_size);
        if (sh->counters == NULL) {
            return NGX_ERROR;
        }

        shpool->data = sh;

        len = sizeof(" in backend_jwt_status zone \"\"")
              + shm_zone->shm.name.len;

        shpool->log_ctx = ngx_slab_alloc(shpool, len);
        if (shpool->log_ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(shpool->log_ctx, " in backend_jwt_status zone \"%V\"%Z",
                    &shm_zone->shm.name);
    }

    n = bjwt_config_jwks_count(jmcf->config);

    jwks = ngx_calloc((n + 1) * sizeof(void *), shm_zone->shm.log);
    if (jwks == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        uri = bjwt_config_jwks_uri(jmcf->config, i, &len);

        /* out of room: that URI is counted per worker */
        jwks[i] = ngx_http_backend_jwt_uri_counters(shpool, sh, uri, len);
    }

    bjwt_config_metrics(jmcf->config, sh->counters, jwks, n);
    ngx_free(jwks);

    jmcf->verdicts = (ngx_atomic_t *) sh->counters;

    return NGX_OK;
}


/* The zone, when the configuration uses the module (postconfiguration). */
ngx_int_t
ngx_http_backend_jwt_status_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t                    *shm_zone;
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_backend_jwt_module);

    if (!jmcf->used) {
        return NGX_OK;
    }

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_backend_jwt_zone_name,
                                     NGX_HTTP_BACKEND_JWT_ZONE_SIZE,
                                     &ngx_http_backend_jwt_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_backend_jwt_init_zone;
    shm_zone->data = jmcf;

    return NGX_OK;
}


/* Counts the request's verdict (ctx->verdict), once. */
void
ngx_http_backend_jwt_count(ngx_http_request_t *r,
    ngx_http_backend_jwt_ctx_t *ctx)
{
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    if (ctx->judged) {
        return;
    }

    ctx->judged = 1;
    jmcf = ngx_http_get_module_main_conf(r, ngx_http_backend_jwt_module);

    if (jmcf->verdicts != NULL && ctx->verdict.reason >= 0
        && ctx->verdict.reason < BJWT_VERDICTS)
    {
        (void) ngx_atomic_fetch_add(&jmcf->verdicts[ctx->verdict.reason], 1);
    }
}


/* $backend_jwt_in_error: the refusal's word; empty when the token verified;
 * not found before the access phase has judged the request. */
ngx_int_t
ngx_http_backend_jwt_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    size_t                       len;
    const char                  *word;
    ngx_http_backend_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_backend_jwt_module);

    if (ctx == NULL || !ctx->judged) {
        v->not_found = 1;
        return NGX_OK;
    }

    word = bjwt_refusal_word(ctx->verdict.reason, &len);

    return ngx_http_backend_jwt_value(v, (u_char *) word, len);
}
