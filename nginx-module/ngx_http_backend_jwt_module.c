/*
 * ngx_http_backend_jwt_module: mints a signed JWT for every request of the
 * locations where `backend_jwt on` is set and hands it to the upstream in a
 * header (X-JWT-Assertion by default) and in $backend_jwt.
 *
 * The module is glue around the Swift core (libbackendjwt.so,
 * include/backend_jwt.h). This file holds its tables and configuration life
 * cycle: every directive goes to the core by name, each merge is one core
 * call, and what the core answers (values to compile, a header, a signer) is
 * kept where requests find it. Per request: ngx_http_backend_jwt_request.c.
 */

#include "ngx_http_backend_jwt.h"


static char *ngx_http_backend_jwt_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void *ngx_http_backend_jwt_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_backend_jwt_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_backend_jwt_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_backend_jwt_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_backend_jwt_init(ngx_conf_t *cf);
static char *ngx_http_backend_jwt_note_jwks_uri(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf,
    ngx_http_backend_jwt_loc_conf_t *conf);


/* Contexts and argument counts are nginx's to check; the rest is the core's. */
#define NGX_HTTP_BJWT_ANY                                                    \
    (NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF)
#define NGX_HTTP_BJWT_COMMAND(name, type)                                    \
    { ngx_string(name), type, ngx_http_backend_jwt_directive,               \
      NGX_HTTP_LOC_CONF_OFFSET, 0, NULL }

static ngx_command_t  ngx_http_backend_jwt_commands[] = {

    NGX_HTTP_BJWT_COMMAND("backend_jwt", NGX_HTTP_BJWT_ANY|NGX_CONF_FLAG),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_signing_key",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE12),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_signing_secret",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE12),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_certificate",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_key_id",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_jwks",
        NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_jwks_key",
        NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_signing_algorithm",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_encoding",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_header",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE12),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_token_ttl",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_issuer",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE12),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_subject",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE12),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_claim",
        NGX_HTTP_BJWT_ANY|NGX_CONF_2MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_wso2_claims",
        NGX_HTTP_BJWT_ANY|NGX_CONF_1MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_audience",
        NGX_HTTP_BJWT_ANY|NGX_CONF_1MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_not_before",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_jti", NGX_HTTP_BJWT_ANY|NGX_CONF_FLAG),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_max_size",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_cache",
        NGX_HTTP_BJWT_ANY|NGX_CONF_1MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_enforce",
        NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_FLAG),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE12),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_key",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_algorithms",
        NGX_HTTP_BJWT_ANY|NGX_CONF_1MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_issuer",
        NGX_HTTP_BJWT_ANY|NGX_CONF_1MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_audience",
        NGX_HTTP_BJWT_ANY|NGX_CONF_1MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_leeway",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_require",
        NGX_HTTP_BJWT_ANY|NGX_CONF_1MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_forward",
        NGX_HTTP_BJWT_ANY|NGX_CONF_FLAG),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_copy_claims",
        NGX_HTTP_BJWT_ANY|NGX_CONF_1MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_caller_exp",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_jwks",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_jwks_cache",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_jwks_refresh",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_jwks_wait",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_jwks_zone",
        NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_cache",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_require_claim",
        NGX_HTTP_BJWT_ANY|NGX_CONF_2MORE),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_claim_set",
        NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_realm",
        NGX_HTTP_BJWT_ANY|NGX_CONF_TAKE1),
    NGX_HTTP_BJWT_COMMAND("backend_jwt_verify_answer",
        NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS),

    { ngx_string("backend_jwt_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_backend_jwt_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_backend_jwt_module_ctx = {
    ngx_http_backend_jwt_preconfiguration, /* preconfiguration */
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


static void
ngx_http_backend_jwt_free_config(void *data)
{
    bjwt_config_free(data);
}


static void
ngx_http_backend_jwt_free_level(void *data)
{
    bjwt_level_free(data);
}


/* Frees a core handle with the configuration it belongs to (on reload). */
static ngx_int_t
ngx_http_backend_jwt_cleanup(ngx_conf_t *cf, ngx_pool_cleanup_pt handler,
    void *data)
{
    ngx_pool_cleanup_t  *cln;

    if (data == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        handler(data);
        return NGX_ERROR;
    }

    cln->handler = handler;
    cln->data = data;

    return NGX_OK;
}


/* What the location's content handler is, as the core names it. */
static int
ngx_http_backend_jwt_handler_kind(ngx_conf_t *cf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    return (clcf->handler == NULL) ? BJWT_HANDLER_NONE
           : (clcf->handler == ngx_http_backend_jwt_jwks_handler)
             ? BJWT_HANDLER_JWKS
           : (clcf->handler == ngx_http_backend_jwt_answer_handler)
             ? BJWT_HANDLER_ANSWER : BJWT_HANDLER_OTHER;
}


/* Compiles the values the core added from index `first` on. */
static char *
ngx_http_backend_jwt_compile(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf, size_t first)
{
    size_t                             i, n, len;
    const char                        *data;
    ngx_str_t                          text;
    ngx_http_complex_value_t         **cv;
    ngx_http_compile_complex_value_t   ccv;

    n = bjwt_config_templates(jmcf->config);

    for (i = first; i < n; i++) {
        data = bjwt_config_template(jmcf->config, i, &len);

        text.len = len;
        text.data = ngx_pnalloc(cf->pool, len + 1);
        cv = ngx_array_push(&jmcf->values);
        if (text.data == NULL || cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(text.data, data, len);

        *cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (*cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
        ccv.cf = cf;
        ccv.value = &text;
        ccv.complex_value = *cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* Every backend_jwt_* directive: handed to the core with its file and line. */
static char *
ngx_http_backend_jwt_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    int                                content;
    size_t                             i, n, first, sets, *lens;
    ngx_str_t                         *value;
    const char                       **args;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_backend_jwt_main_conf_t  *jmcf;
    char                               err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_backend_jwt_module);
    jmcf->used = 1;

    value = cf->args->elts;
    n = cf->args->nelts - 1;
    args = ngx_palloc(cf->pool, (n + 1) * sizeof(char *));
    lens = ngx_palloc(cf->pool, (n + 1) * sizeof(size_t));
    if (args == NULL || lens == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < n; i++) {
        args[i] = (char *) value[i + 1].data;
        lens[i] = value[i + 1].len;
    }

    first = bjwt_config_templates(jmcf->config);
    sets = bjwt_config_claim_sets(jmcf->config);

    if (bjwt_directive(jmcf->config, jlcf->level, (char *) cmd->name.data,
                       cmd->name.len, args, lens, n,
                       (char *) cf->conf_file->file.name.data,
                       cf->conf_file->file.name.len, cf->conf_file->line,
                       ngx_http_backend_jwt_handler_kind(cf), &content,
                       err, sizeof(err))
        != BJWT_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
        return NGX_CONF_ERROR;
    }

    if (content != BJWT_HANDLER_NONE) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->handler = (content == BJWT_HANDLER_JWKS)
                        ? ngx_http_backend_jwt_jwks_handler
                        : ngx_http_backend_jwt_answer_handler;
    }

    if (ngx_http_backend_jwt_add_claim_sets(cf, jmcf, sets) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_backend_jwt_compile(cf, jmcf, first);
}


static void *
ngx_http_backend_jwt_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_backend_jwt_main_conf_t  *jmcf;

    /* the handshake: a core left from another build may lay data out
     * otherwise; refuse it before any call that depends on the layout */
    if (bjwt_abi_version() != BJWT_ABI_VERSION) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "backend_jwt: the core libbackendjwt.so has ABI "
                           "version %d, this module needs version %d: install "
                           "the core built with this module",
                           bjwt_abi_version(), BJWT_ABI_VERSION);
        return NULL;
    }

    jmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_backend_jwt_main_conf_t));
    if (jmcf == NULL
        || ngx_array_init(&jmcf->values, cf->pool, 16,
                          sizeof(ngx_http_complex_value_t *))
           != NGX_OK
        || ngx_array_init(&jmcf->jwks_checks, cf->pool, 4,
                          sizeof(ngx_http_backend_jwt_jwks_uri_t))
           != NGX_OK
        || ngx_array_init(&jmcf->jwks_uris, cf->pool, 2, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    jmcf->config = bjwt_config_create((char *) cf->cycle->conf_prefix.data,
                                      cf->cycle->conf_prefix.len);

    if (ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_config,
                                     jmcf->config)
        != NGX_OK)
    {
        return NULL;
    }

    return jmcf;
}


static void *
ngx_http_backend_jwt_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_backend_jwt_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_backend_jwt_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->level = bjwt_level_create();

    if (ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_level,
                                     conf->level)
        != NGX_OK)
    {
        return NULL;
    }

    return conf;
}


/*
 * The *_pass_request_headers directive that is off in this location, if
 * any, for the core's backend_jwt_enforce check. Each of these modules'
 * location configuration starts with its ngx_http_upstream_conf_t.
 */
static const char *
ngx_http_backend_jwt_dropped(ngx_conf_t *cf)
{
    ngx_uint_t                 i, j;
    ngx_module_t              *m;
    ngx_http_upstream_conf_t  *ucf;

    static const char  *modules[][2] = {
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
                return modules[j][1];
            }
        }
    }

    return NULL;
}


/* Keeps what the core says a request in this level gets. */
static char *
ngx_http_backend_jwt_adopt(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf,
    ngx_http_backend_jwt_loc_conf_t *conf)
{
    u_char                     *args;
    ngx_str_t                  *uri;
    ngx_uint_t                  i;
    bjwt_location               loc;
    ngx_http_complex_value_t  **compiled;

    compiled = jmcf->values.elts;

    if (bjwt_level_location(conf->level, &loc) != BJWT_OK) {
        return NGX_CONF_ERROR;
    }

    conf->enable = loc.enabled;
    conf->signer = loc.signer;
    conf->max_size = loc.max_size;
    conf->origin = loc.origin;
    conf->nvalues = loc.nvalues;

    conf->header.len = loc.header_len;
    conf->header.data = ngx_pnalloc(cf->pool, loc.header_len + 1);
    conf->header_lc = ngx_pnalloc(cf->pool, loc.header_len + 1);
    conf->values = ngx_pcalloc(cf->pool,
                               (loc.nvalues + 1) * sizeof(void *));
    conf->prefix = loc.scheme_len ? loc.scheme_len + 1 : 0;
    conf->scheme = ngx_pnalloc(cf->pool, conf->prefix + 1);
    conf->rule_values = ngx_pcalloc(cf->pool,
                                    (loc.nrule_values + 1) * sizeof(void *));
    conf->jwks_uri.len = loc.jwks_uri_len;
    conf->jwks_uri.data = ngx_pnalloc(cf->pool, loc.jwks_uri_len + 1);
    if (conf->header.data == NULL || conf->header_lc == NULL
        || conf->values == NULL || conf->scheme == NULL
        || conf->rule_values == NULL || conf->jwks_uri.data == NULL)
    {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(conf->header.data, loc.header, loc.header_len);
    conf->header_hash = ngx_hash_strlow(conf->header_lc, conf->header.data,
                                        conf->header.len);
    if (loc.scheme_len) {
        ngx_sprintf(conf->scheme, "%*s ", loc.scheme_len, loc.scheme);
    }

    if (loc.jwks_uri_len) {
        ngx_memcpy(conf->jwks_uri.data, loc.jwks_uri, loc.jwks_uri_len);
    }

    /* the set's name in the shared zone: the URI with its query string */
    conf->jwks_key = conf->jwks_uri;
    conf->jwks_wait = (ngx_msec_t) loc.jwks_wait;
    uri = jmcf->jwks_uris.elts;

    for (i = 0; i < jmcf->jwks_uris.nelts; i++) {
        if (uri[i].len == conf->jwks_key.len
            && ngx_memcmp(uri[i].data, conf->jwks_key.data, uri[i].len) == 0)
        {
            break;
        }
    }

    if (conf->jwks_key.len && i == jmcf->jwks_uris.nelts) {
        uri = ngx_array_push(&jmcf->jwks_uris);
        if (uri == NULL) {
            return NGX_CONF_ERROR;
        }

        *uri = conf->jwks_key;
    }

    /* the subrequest takes the path and the query string apart */
    args = ngx_strlchr(conf->jwks_uri.data,
                       conf->jwks_uri.data + conf->jwks_uri.len, '?');
    if (args != NULL) {
        conf->jwks_args.data = args + 1;
        conf->jwks_args.len = conf->jwks_uri.data + conf->jwks_uri.len
                              - (args + 1);
        conf->jwks_uri.len = args - conf->jwks_uri.data;
    }

    for (i = 0; i < loc.nvalues; i++) {
        if (loc.values[i] != BJWT_NO_VALUE) {
            conf->values[i] = compiled[loc.values[i]];
        }
    }

    /* the caller's token: where it comes from, what else it must meet */
    conf->verifier = loc.verifier;
    conf->source = (loc.token == BJWT_NO_VALUE) ? NULL : compiled[loc.token];
    conf->drop_authorization = loc.drop_authorization;
    conf->rules = loc.rules;
    conf->nrule_values = loc.nrule_values;

    for (i = 0; i < loc.nrule_values; i++) {
        conf->rule_values[i] = compiled[loc.rule_values[i]];
    }

    /* the core's texts live as long as the level */
    for (i = 0; i < 3; i++) {
        conf->challenge[i].data = (u_char *) loc.challenge[i];
        conf->challenge[i].len = loc.challenge_len[i];
    }

    conf->jwks_place.data = (u_char *) loc.jwks_place;
    conf->jwks_place.len = loc.jwks_place_len;

    return NGX_CONF_OK;
}


/* Notes the server a JWK Set URI is fetched from, for the check once every
 * location is known (ngx_http_backend_jwt_check_jwks_uris). */
static char *
ngx_http_backend_jwt_note_jwks_uri(ngx_conf_t *cf,
    ngx_http_backend_jwt_main_conf_t *jmcf,
    ngx_http_backend_jwt_loc_conf_t *conf)
{
    ngx_uint_t                        i;
    ngx_http_core_srv_conf_t         *cscf;
    ngx_http_backend_jwt_jwks_uri_t  *known;

    if (conf->verifier == NULL || conf->jwks_uri.len == 0) {
        return NGX_CONF_OK;
    }

    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);
    known = jmcf->jwks_checks.elts;

    for (i = 0; i < jmcf->jwks_checks.nelts; i++) {
        if (known[i].server == cscf
            && known[i].uri.len == conf->jwks_uri.len
            && ngx_strncmp(known[i].uri.data, conf->jwks_uri.data,
                           conf->jwks_uri.len) == 0)
        {
            return NGX_CONF_OK;
        }
    }

    known = ngx_array_push(&jmcf->jwks_checks);
    if (known == NULL) {
        return NGX_CONF_ERROR;
    }

    known->uri = conf->jwks_uri;
    known->place = conf->jwks_place;
    known->server = cscf;

    return NGX_CONF_OK;
}


static char *
ngx_http_backend_jwt_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_backend_jwt_loc_conf_t  *prev = parent;
    ngx_http_backend_jwt_loc_conf_t  *conf = child;

    bjwt_level_facts                   facts;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_backend_jwt_main_conf_t  *jmcf;
    char                               err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_backend_jwt_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    facts.in_location = clcf->noname;
    facts.handler = ngx_http_backend_jwt_handler_kind(cf);
    facts.location = (char *) clcf->name.data;
    facts.location_len = clcf->name.len;
    facts.dropped = ngx_http_backend_jwt_dropped(cf);

    if (bjwt_level_merge(jmcf->config, prev->level, conf->level, &facts, err,
                         sizeof(err))
        != BJWT_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "%s", err);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_backend_jwt_adopt(cf, jmcf, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_backend_jwt_note_jwks_uri(cf, jmcf, conf);
}


/* $backend_jwt_version: the release the module was built from (BJWT_VERSION) */
static ngx_int_t
ngx_http_backend_jwt_version_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_backend_jwt_value(v, (u_char *) BJWT_VERSION,
                                      sizeof(BJWT_VERSION) - 1);
}


static ngx_int_t
ngx_http_backend_jwt_preconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t            i;
    ngx_http_variable_t  *var;

    /* $backend_jwt_in_kid and _alg read the header members as
     * $backend_jwt_in_header_kid and _alg do */
    static ngx_str_t  kid = ngx_string(NGX_HTTP_BACKEND_JWT_HEADER "kid");
    static ngx_str_t  alg = ngx_string(NGX_HTTP_BACKEND_JWT_HEADER "alg");

    /* not cacheable: each location mints and verifies with its own settings,
     * and mints anew after an internal redirect */
    static struct {
        ngx_str_t                  name;
        ngx_uint_t                 flags;
        ngx_http_get_variable_pt   handler;
        ngx_str_t                 *data;
    } vars[] = {
        { ngx_string("backend_jwt"), NGX_HTTP_VAR_NOCACHEABLE,
          ngx_http_backend_jwt_variable, NULL },
        { ngx_string("backend_jwt_version"), 0,
          ngx_http_backend_jwt_version_variable, NULL },
        { ngx_string(NGX_HTTP_BACKEND_JWT_CLAIM),
          NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX,
          ngx_http_backend_jwt_claim_variable, NULL },
        { ngx_string(NGX_HTTP_BACKEND_JWT_HEADER),
          NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX,
          ngx_http_backend_jwt_claim_variable, NULL },
        { ngx_string("backend_jwt_in_payload"), NGX_HTTP_VAR_NOCACHEABLE,
          ngx_http_backend_jwt_claim_variable, NULL },
        { ngx_string("backend_jwt_in_kid"), NGX_HTTP_VAR_NOCACHEABLE,
          ngx_http_backend_jwt_claim_variable, &kid },
        { ngx_string("backend_jwt_in_alg"), NGX_HTTP_VAR_NOCACHEABLE,
          ngx_http_backend_jwt_claim_variable, &alg },
        { ngx_string("backend_jwt_in_error"), NGX_HTTP_VAR_NOCACHEABLE,
          ngx_http_backend_jwt_error_variable, NULL }
    };

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        var = ngx_http_add_variable(cf, &vars[i].name, vars[i].flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = vars[i].handler;
        var->data = (uintptr_t) vars[i].data;
    }

    return NGX_OK;
}


static ngx_int_t
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

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_backend_jwt_preaccess_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_backend_jwt_access_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_backend_jwt_handler;

    if (ngx_http_backend_jwt_keys_init(cf) != NGX_OK
        || ngx_http_backend_jwt_status_zone(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* every signer exists now (locations are merged before this runs) */
    jmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_backend_jwt_module);

    if (ngx_http_backend_jwt_check_jwks_uris(cf, jmcf) != NGX_CONF_OK) {
        return NGX_ERROR;
    }

    if (jmcf->jwks_uris.nelts
        && ngx_http_backend_jwt_zone_add(cf, jmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    jmcf->json.len = bjwt_config_jwks_json(jmcf->config, NULL, 0);
    jmcf->etag.len = bjwt_config_jwks_etag(jmcf->config, NULL, 0);
    jmcf->json.data = ngx_pnalloc(cf->pool, jmcf->json.len);
    jmcf->etag.data = ngx_pnalloc(cf->pool, jmcf->etag.len);

    if (jmcf->json.data == NULL || jmcf->etag.data == NULL) {
        return NGX_ERROR;
    }

    bjwt_config_jwks_json(jmcf->config, jmcf->json.data, jmcf->json.len);
    bjwt_config_jwks_etag(jmcf->config, jmcf->etag.data, jmcf->etag.len);

    return NGX_OK;
}
