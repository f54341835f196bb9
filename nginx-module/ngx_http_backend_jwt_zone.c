/*
 * ngx_http_backend_jwt_zone.c: the fetched JWK Sets in shared memory, one
 * record per backend_jwt_verify_jwks URI for every worker: the bytes of the
 * last good set, its last error text, and the state the core decides on
 * (bjwt_jwks_shared). nginx keeps a zone of the same name and size across
 * reloads (as limit_req's), so new workers verify at once with the last good
 * set. Each access finds its record by URI under the zone's lock and copies
 * what it needs: no pointer into the zone outlives the lock, so a record a
 * reload dropped is never used after it is freed.
 */

#include "ngx_http_backend_jwt.h"


#define NGX_HTTP_BACKEND_JWT_ZONE_ERR  256


typedef struct {
    ngx_queue_t                queue;
    bjwt_jwks_shared           state;
    u_char                    *body;          /* the last good set; NULL:
                                                 none */
    size_t                     body_len;
    size_t                     error_len;     /* why the last fetch failed */
    u_char                     error[NGX_HTTP_BACKEND_JWT_ZONE_ERR];
    size_t                     uri_len;
    u_char                     uri[1];
} ngx_http_backend_jwt_record_t;


typedef struct {
    ngx_queue_t                records;
    int64_t                    generation;    /* the last a stored set got */
} ngx_http_backend_jwt_shctx_t;


struct ngx_http_backend_jwt_zone_s {
    ngx_http_backend_jwt_shctx_t  *sh;
    ngx_slab_pool_t               *shpool;
    ngx_array_t                   *uris;      /* this configuration's */
    size_t                         size;
};


static ngx_str_t  ngx_http_backend_jwt_zone_name =
    ngx_string("backend_jwt_verify_jwks");


/* The record of `key`, made (empty) when there is none; NULL: no memory.
 * Under the lock. */
static ngx_http_backend_jwt_record_t *
ngx_http_backend_jwt_record(ngx_http_backend_jwt_zone_t *zone, ngx_str_t *key,
    ngx_uint_t make)
{
    ngx_queue_t                    *q;
    ngx_http_backend_jwt_record_t  *rec;

    for (q = ngx_queue_head(&zone->sh->records);
         q != ngx_queue_sentinel(&zone->sh->records);
         q = ngx_queue_next(q))
    {
        rec = ngx_queue_data(q, ngx_http_backend_jwt_record_t, queue);

        if (rec->uri_len == key->len
            && ngx_memcmp(rec->uri, key->data, key->len) == 0)
        {
            return rec;
        }
    }

    if (!make) {
        return NULL;
    }

    rec = ngx_slab_calloc_locked(zone->shpool,
                                 sizeof(ngx_http_backend_jwt_record_t)
                                 + key->len);
    if (rec == NULL) {
        return NULL;
    }

    rec->uri_len = key->len;
    ngx_memcpy(rec->uri, key->data, key->len);
    ngx_queue_insert_tail(&zone->sh->records, &rec->queue);

    return rec;
}


/* Whether the worker that runs the record's fetch still exists (a worker
 * killed during a fetch must not leave it marked as running). */
static int
ngx_http_backend_jwt_owner_alive(ngx_http_backend_jwt_record_t *rec)
{
    ngx_pid_t  pid;

    pid = (ngx_pid_t) rec->state.fetch_owner;

    if (rec->state.fetch_id == 0 || pid == ngx_pid || pid <= 0) {
        return 1;
    }

    return !(kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH);
}


/*
 * What a request does about the set of `key` (BJWT_JWKS_*; UNAVAILABLE
 * when the zone has no room for its record); *fetch: the running fetch,
 * which is this request's to start on BJWT_JWKS_FETCH. The worker's parsed
 * set follows the stored one: its bytes are copied under the lock, parsed
 * after it.
 */
int
ngx_http_backend_jwt_zone_decide(ngx_http_backend_jwt_zone_t *zone,
    ngx_log_t *log, bjwt_verifier *verifier, ngx_str_t *key, int miss,
    int64_t *fetch, int64_t *retry_after)
{
    int                             rc, take;
    u_char                         *copy;
    size_t                          len;
    int64_t                         generation;
    ngx_http_backend_jwt_record_t  *rec;
    char                            err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    copy = NULL;
    len = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    rec = ngx_http_backend_jwt_record(zone, key, 1);
    if (rec == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "backend_jwt: no room for the JWK Set of \"%V\" in the "
                      "%uz bytes of backend_jwt_verify_jwks_zone", key,
                      zone->size);
        *fetch = 0;
        *retry_after = 1;
        return BJWT_JWKS_UNAVAILABLE;
    }

    rc = bjwt_jwks_decide(verifier, &rec->state, (char *) rec->error,
                          rec->error_len, (int64_t) ngx_time(),
                          (int64_t) ngx_pid,
                          ngx_http_backend_jwt_owner_alive(rec), miss,
                          retry_after, &take);
    *fetch = rec->state.fetch_id;
    generation = rec->state.generation;

    if (take && rec->body != NULL) {
        len = rec->body_len;
        copy = ngx_alloc(len, log);
        if (copy != NULL) {
            ngx_memcpy(copy, rec->body, len);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (copy != NULL) {
        if (bjwt_jwks_take(verifier, generation, copy, len, err, sizeof(err))
            != BJWT_OK)
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "backend_jwt: the stored JWK Set of \"%V\" is not "
                          "used: %s", key, err);
        }

        ngx_free(copy);
    }

    return rc;
}


/* Whether fetch `fetch` of `key` still runs: NGX_AGAIN while it does,
 * NGX_OK once it is over, NGX_DECLINED when its worker is gone (it is given
 * up: the next request fetches). */
ngx_int_t
ngx_http_backend_jwt_zone_running(ngx_http_backend_jwt_zone_t *zone,
    bjwt_verifier *verifier, ngx_str_t *key, int64_t fetch)
{
    ngx_int_t                       rc;
    ngx_http_backend_jwt_record_t  *rec;

    ngx_shmtx_lock(&zone->shpool->mutex);

    rec = ngx_http_backend_jwt_record(zone, key, 0);
    rc = NGX_OK;

    if (fetch != 0 && rec != NULL && rec->state.fetch_id == fetch) {
        rc = NGX_AGAIN;

        if (!ngx_http_backend_jwt_owner_alive(rec)) {
            bjwt_jwks_give_up(verifier, &rec->state, fetch);
            rc = NGX_DECLINED;
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


/*
 * Fetch `fetch` of `key` is over: `body` is a set the core checked
 * (`failure` NULL), stored when its bytes are new and it fits; else
 * `failure` says why not. A fetch that no longer runs (taken as lost)
 * changes nothing.
 */
void
ngx_http_backend_jwt_zone_finish(ngx_http_backend_jwt_zone_t *zone,
    ngx_log_t *log, bjwt_verifier *verifier, ngx_str_t *key, int64_t fetch,
    ngx_str_t *body, ngx_str_t *cache_control, u_char *failure, size_t len)
{
    u_char                         *p;
    ngx_uint_t                      full;
    ngx_http_backend_jwt_record_t  *rec;
    u_char                          err[NGX_HTTP_BACKEND_JWT_ZONE_ERR];

    full = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    rec = ngx_http_backend_jwt_record(zone, key, 1);
    if (rec == NULL || rec->state.fetch_id != fetch) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return;
    }

    if (failure == NULL
        && (rec->body == NULL || rec->body_len != body->len
            || ngx_memcmp(rec->body, body->data, body->len) != 0))
    {
        /* the new set first: the old one stays when it does not fit */
        p = ngx_slab_alloc_locked(zone->shpool, body->len);

        if (p == NULL) {
            full = 1;
            failure = err;
            len = ngx_snprintf(err, sizeof(err), "the set (%uz bytes) does "
                               "not fit in the free space of "
                               "backend_jwt_verify_jwks_zone (%uz bytes in "
                               "all): give it a larger size", body->len,
                               zone->size)
                  - err;

        } else {
            if (rec->body != NULL) {
                ngx_slab_free_locked(zone->shpool, rec->body);
            }

            ngx_memcpy(p, body->data, body->len);
            rec->body = p;
            rec->body_len = body->len;
            rec->state.generation = ++zone->sh->generation;
        }
    }

    if (failure != NULL) {
        rec->error_len = ngx_min(len, sizeof(rec->error));
        ngx_memcpy(rec->error, failure, rec->error_len);
    }

    bjwt_jwks_finished(verifier, &rec->state, fetch, (char *) failure,
                       failure ? len : 0,
                       cache_control->len ? cache_control->data : NULL,
                       cache_control->len, (int64_t) ngx_time());

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (full) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "backend_jwt: the JWK Set from \"%V\" is not used: %*s",
                      key, len, err);
    }
}


/* Fetch `fetch` of `key` ended with no verdict: the next request fetches. */
void
ngx_http_backend_jwt_zone_give_up(ngx_http_backend_jwt_zone_t *zone,
    bjwt_verifier *verifier, ngx_str_t *key, int64_t fetch)
{
    ngx_http_backend_jwt_record_t  *rec;

    ngx_shmtx_lock(&zone->shpool->mutex);

    rec = ngx_http_backend_jwt_record(zone, key, 0);
    if (rec != NULL) {
        bjwt_jwks_give_up(verifier, &rec->state, fetch);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* A reload took the zone over: the records of URIs this configuration no
 * longer names go (an old worker that still needs one makes it again). */
static void
ngx_http_backend_jwt_zone_forget(ngx_http_backend_jwt_zone_t *zone)
{
    ngx_str_t                      *uri;
    ngx_uint_t                      i, named;
    ngx_queue_t                    *q, *next;
    ngx_http_backend_jwt_record_t  *rec;

    uri = zone->uris->elts;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&zone->sh->records);
         q != ngx_queue_sentinel(&zone->sh->records);
         q = next)
    {
        next = ngx_queue_next(q);
        rec = ngx_queue_data(q, ngx_http_backend_jwt_record_t, queue);

        named = 0;

        for (i = 0; i < zone->uris->nelts && !named; i++) {
            named = (rec->uri_len == uri[i].len
                     && ngx_memcmp(rec->uri, uri[i].data, uri[i].len) == 0);
        }

        if (!named) {
            ngx_queue_remove(q);

            if (rec->body != NULL) {
                ngx_slab_free_locked(zone->shpool, rec->body);
            }

            ngx_slab_free_locked(zone->shpool, rec);
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static ngx_int_t
ngx_http_backend_jwt_zone_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_backend_jwt_zone_t  *ozone = data;

    size_t                        len;
    ngx_http_backend_jwt_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone != NULL) {
        /* a reload, same size: the sets stay */
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        ngx_http_backend_jwt_zone_forget(zone);
        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    zone->sh = ngx_slab_alloc(zone->shpool,
                              sizeof(ngx_http_backend_jwt_shctx_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;
    ngx_queue_init(&zone->sh->records);
    zone->sh->generation = 0;

    len = sizeof(" in backend_jwt_verify_jwks_zone \"\"")
          + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in backend_jwt_verify_jwks_zone "
                "\"%V\"%Z", &shm_zone->shm.name);

    /* a set that does not fit is reported with the URI and the size */
    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


/* The zone of this configuration's sets (its size from the core). */
ngx_int_t
ngx_http_backend_jwt_zone_add(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf)
{
    ngx_http_backend_jwt_zone_t  *zone;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_backend_jwt_zone_t));
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->uris = &jmcf->jwks_uris;
    zone->size = bjwt_config_jwks_zone_size(jmcf->config);

    jmcf->jwks_zone = ngx_shared_memory_add(cf,
                                            &ngx_http_backend_jwt_zone_name,
                                            zone->size,
                                            &ngx_http_backend_jwt_module);
    if (jmcf->jwks_zone == NULL) {
        return NGX_ERROR;
    }

    jmcf->jwks_zone->init = ngx_http_backend_jwt_zone_init;
    jmcf->jwks_zone->data = zone;

    return NGX_OK;
}


ngx_http_backend_jwt_zone_t *
ngx_http_backend_jwt_zone(ngx_http_request_t *r)
{
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_backend_jwt_module);

    return jmcf->jwks_zone ? jmcf->jwks_zone->data : NULL;
}
