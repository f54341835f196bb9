/*
 * ngx_http_backend_jwt_directives.c: the directive handlers. Each hands its
 * arguments to the Swift core and prints its error with the file and line.
 */

#include "ngx_http_backend_jwt.h"


static char *ngx_http_backend_jwt_conf_error(ngx_conf_t *cf,
    ngx_command_t *cmd, char *err);
static void ngx_http_backend_jwt_where(ngx_conf_t *cf,
    ngx_http_backend_jwt_where_t *w);
static void ngx_http_backend_jwt_mark(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_backend_jwt_compile(ngx_conf_t *cf, ngx_str_t *text,
    ngx_http_complex_value_t *cv);


/* Logs a core error for the directive being parsed, with its file:line. */
static char *
ngx_http_backend_jwt_conf_error(ngx_conf_t *cf, ngx_command_t *cmd,
    char *err)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive: %s",
                       &cmd->name, err);
    return NGX_CONF_ERROR;
}


static void
ngx_http_backend_jwt_where(ngx_conf_t *cf, ngx_http_backend_jwt_where_t *w)
{
    w->file = cf->conf_file->file.name;
    w->line = cf->conf_file->line;
}


/* Records where this level sets a directive, for backend_jwt_enforce. */
static void
ngx_http_backend_jwt_mark(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    ngx_http_backend_jwt_where_t  *w;

    w = &jlcf->set[cmd - ngx_http_backend_jwt_commands];

    if (w->line == 0) {
        ngx_http_backend_jwt_where(cf, w);
    }
}


char *
ngx_http_backend_jwt_enable(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    char  *rv;

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv == NGX_CONF_OK) {
        ngx_http_backend_jwt_where(cf, &jlcf->enable_where);
    }

    return rv;
}


/* The core's parsers of one-value directives, in one shape. */

static int
ngx_http_backend_jwt_parse_algorithm(ngx_str_t *v, ngx_int_t *out, char *err,
    size_t cap)
{
    int  alg = 0, rc;

    rc = bjwt_parse_algorithm((char *) v->data, v->len, &alg, err, cap);
    *out = alg;

    return rc;
}


static int
ngx_http_backend_jwt_parse_encoding(ngx_str_t *v, ngx_int_t *out, char *err,
    size_t cap)
{
    int  enc = 0, rc;

    rc = bjwt_parse_encoding((char *) v->data, v->len, &enc, err, cap);
    *out = enc;

    return rc;
}


static int
ngx_http_backend_jwt_parse_ttl(ngx_str_t *v, ngx_int_t *out, char *err,
    size_t cap)
{
    int      rc;
    int64_t  seconds = 0;

    rc = bjwt_parse_ttl((char *) v->data, v->len, &seconds, err, cap);
    *out = (ngx_int_t) seconds;

    return rc;
}


ngx_http_backend_jwt_parser_t  ngx_http_backend_jwt_algorithm_parser =
    { ngx_http_backend_jwt_parse_algorithm };
ngx_http_backend_jwt_parser_t  ngx_http_backend_jwt_encoding_parser =
    { ngx_http_backend_jwt_parse_encoding };
ngx_http_backend_jwt_parser_t  ngx_http_backend_jwt_ttl_parser =
    { ngx_http_backend_jwt_parse_ttl };


/* backend_jwt_signing_algorithm, backend_jwt_encoding, backend_jwt_token_ttl:
 * one value, parsed by the core (cmd->post), stored at cmd->offset */
char *
ngx_http_backend_jwt_parsed(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                      *value;
    ngx_int_t                      *field;
    ngx_http_backend_jwt_parser_t  *parser = cmd->post;
    char                            err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    field = (ngx_int_t *) ((char *) conf + cmd->offset);
    if (*field != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (parser->parse(&value[1], field, err, sizeof(err)) != BJWT_OK) {
        *field = NGX_CONF_UNSET;
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    return NGX_CONF_OK;
}


char *
ngx_http_backend_jwt_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    ngx_str_t  *value;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (jlcf->header.data != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* off: no header, the token only in $backend_jwt */
    if (value[1].len == 3
        && ngx_strncasecmp(value[1].data, (u_char *) "off", 3) == 0)
    {
        ngx_str_set(&jlcf->header, "");
        return NGX_CONF_OK;
    }

    if (bjwt_check_header_name((char *) value[1].data, value[1].len, err,
                               sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    jlcf->header_lc = ngx_pnalloc(cf->pool, value[1].len);
    if (jlcf->header_lc == NULL) {
        return NGX_CONF_ERROR;
    }

    jlcf->header = value[1];
    jlcf->header_hash = ngx_hash_strlow(jlcf->header_lc, value[1].data,
                                        value[1].len);

    return NGX_CONF_OK;
}


/* The second argument of a directive that may have one, else empty. */
static ngx_str_t
ngx_http_backend_jwt_option(ngx_conf_t *cf, ngx_uint_t i)
{
    ngx_str_t  *value, none = ngx_null_string;

    value = cf->args->elts;

    return (cf->args->nelts > i) ? value[i] : none;
}


/* backend_jwt_signing_key file [password_file=file] and
 * backend_jwt_signing_secret file [encoding=...]: the key a level signs with */
char *
ngx_http_backend_jwt_signing_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    int         rc;
    bjwt_key   *key;
    ngx_str_t  *value, path, option;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (jlcf->key != NGX_CONF_UNSET_PTR) {
        return "is duplicate (a level signs with one key or secret)";
    }

    value = cf->args->elts;
    path = value[1];
    option = ngx_http_backend_jwt_option(cf, 2);

    /* relative to the configuration prefix, as ssl_certificate_key */
    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (cmd->name.len == sizeof("backend_jwt_signing_secret") - 1) {
        rc = bjwt_secret_load((char *) path.data, path.len,
                              (char *) option.data, option.len, &key,
                              err, sizeof(err));

    } else {
        rc = bjwt_key_load((char *) path.data, path.len,
                           (char *) option.data, option.len,
                           (char *) cf->cycle->conf_prefix.data,
                           cf->cycle->conf_prefix.len, &key,
                           err, sizeof(err));
    }

    if (rc != BJWT_OK) {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    if (ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_key, key)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    jlcf->key = key;
    ngx_http_backend_jwt_where(cf, &jlcf->key_where);

    return NGX_CONF_OK;
}


char *
ngx_http_backend_jwt_certificate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    bjwt_cert  *cert;
    ngx_str_t  *value, path;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (jlcf->cert != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (bjwt_cert_load((char *) path.data, path.len, &cert, err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    if (ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_cert, cert)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    jlcf->cert = cert;
    ngx_http_backend_jwt_where(cf, &jlcf->cert_where);

    return NGX_CONF_OK;
}


/* backend_jwt_key_id string | off */
char *
ngx_http_backend_jwt_key_id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    ngx_str_t  *value;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (jlcf->kid_mode != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 3
        && ngx_strncasecmp(value[1].data, (u_char *) "off", 3) == 0)
    {
        jlcf->kid_mode = BJWT_KID_OFF;
        return NGX_CONF_OK;
    }

    if (bjwt_check_key_id((char *) value[1].data, value[1].len, err,
                          sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    jlcf->kid_mode = BJWT_KID_CUSTOM;
    jlcf->kid = value[1];

    return NGX_CONF_OK;
}


/* backend_jwt_jwks: this location serves the JWK Set */
char *
ngx_http_backend_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (jlcf->jwks != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* one set later (proxy_pass after this) is found by merge */
    if (clcf->handler != NULL) {
        return "cannot share a location with another content handler "
               "(proxy_pass, fastcgi_pass, ...)";
    }

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    jlcf->jwks = 1;
    clcf->handler = ngx_http_backend_jwt_jwks_handler;

    return NGX_CONF_OK;
}


/* backend_jwt_jwks_key file [alg=NAME]: publish one more public key */
char *
ngx_http_backend_jwt_jwks_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_main_conf_t *jmcf = conf;

    ngx_str_t  *value, path, option;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    value = cf->args->elts;
    path = value[1];
    option = ngx_http_backend_jwt_option(cf, 2);

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (bjwt_jwks_add_key_file(jmcf->jwks, (char *) path.data, path.len,
                               (char *) option.data, option.len,
                               err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    return NGX_CONF_OK;
}


/* The if_empty=omit|fail option of a registered claim's directive: sets the
 * claim's BJWT_REQUIRE_* bit (cmd->post) for fail. */
static char *
ngx_http_backend_jwt_if_empty(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_str_t *option)
{
    int   fail;
    char  err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    if (bjwt_parse_if_empty((char *) option->data, option->len, &fail, err,
                            sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    if (fail) {
        jlcf->required |= *(ngx_uint_t *) cmd->post;
    }

    return NGX_CONF_OK;
}


ngx_uint_t  ngx_http_backend_jwt_require_iss = BJWT_REQUIRE_ISS;
ngx_uint_t  ngx_http_backend_jwt_require_sub = BJWT_REQUIRE_SUB;
ngx_uint_t  ngx_http_backend_jwt_require_aud = BJWT_REQUIRE_AUD;


/* backend_jwt_issuer and backend_jwt_subject: a value with variables,
 * [if_empty=omit|fail]. */
char *
ngx_http_backend_jwt_value(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                  *value;
    ngx_http_complex_value_t  **cv;

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    cv = (ngx_http_complex_value_t **) ((char *) conf + cmd->offset);
    if (*cv != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *cv = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (*cv == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (ngx_http_backend_jwt_compile(cf, &value[1], *cv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return (cf->args->nelts == 3)
           ? ngx_http_backend_jwt_if_empty(cf, cmd, conf, &value[2])
           : NGX_CONF_OK;
}


/* Compiles a value that may contain variables into `cv`. */
static ngx_int_t
ngx_http_backend_jwt_compile(ngx_conf_t *cf, ngx_str_t *text,
    ngx_http_complex_value_t *cv)
{
    ngx_http_compile_complex_value_t  ccv;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = text;
    ccv.complex_value = cv;

    return ngx_http_compile_complex_value(&ccv);
}


/* The directive's arguments from `first` on, as the core's C arrays. */
static ngx_int_t
ngx_http_backend_jwt_args(ngx_conf_t *cf, ngx_uint_t first,
    const char ***args, size_t **lens, size_t *n)
{
    ngx_uint_t   i;
    ngx_str_t   *value;

    value = cf->args->elts;
    *n = cf->args->nelts - first;
    *args = ngx_palloc(cf->pool, (*n + 1) * sizeof(char *));
    *lens = ngx_palloc(cf->pool, (*n + 1) * sizeof(size_t));
    if (*args == NULL || *lens == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < *n; i++) {
        (*args)[i] = (char *) value[first + i].data;
        (*lens)[i] = value[first + i].len;
    }

    return NGX_OK;
}


/* The level's claim list, created with its first claim. */
static ngx_int_t
ngx_http_backend_jwt_claims_init(ngx_conf_t *cf,
    ngx_http_backend_jwt_loc_conf_t *jlcf)
{
    if (jlcf->claims != NGX_CONF_UNSET_PTR) {
        return NGX_OK;
    }

    jlcf->claims = bjwt_claims_create();
    if (jlcf->claims == NULL
        || ngx_http_backend_jwt_cleanup(cf, ngx_http_backend_jwt_free_claims,
                                        jlcf->claims)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    jlcf->claim_values = ngx_array_create(cf->pool, 4,
                                          sizeof(ngx_http_backend_jwt_claim_t));
    if (jlcf->claim_values == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* Adds the value of the claim the core just declared; a constant one that
 * could never make a token fails here rather than in every request. */
static char *
ngx_http_backend_jwt_claim_value(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_backend_jwt_loc_conf_t *jlcf, ngx_str_t *text)
{
    ngx_http_backend_jwt_claim_t  *claim;
    char                           err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    claim = ngx_array_push(jlcf->claim_values);
    if (claim == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_http_backend_jwt_where(cf, &claim->where);

    if (ngx_http_backend_jwt_compile(cf, text, &claim->value) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (claim->value.lengths == NULL
        && bjwt_claims_check_constant(jlcf->claims,
                                      jlcf->claim_values->nelts - 1,
                                      (char *) claim->value.value.data,
                                      claim->value.value.len, err, sizeof(err))
           != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    return NGX_CONF_OK;
}


/* backend_jwt_claim name value [type=T] [separator=S] [if_empty=E] */
char *
ngx_http_backend_jwt_claim(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    size_t       n, *lens;
    ngx_str_t   *value;
    const char **options;
    char         err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (ngx_http_backend_jwt_claims_init(cf, jlcf) != NGX_OK
        || ngx_http_backend_jwt_args(cf, 3, &options, &lens, &n) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    if (bjwt_claims_add(jlcf->claims, (char *) value[1].data, value[1].len,
                        options, lens, n, err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    return ngx_http_backend_jwt_claim_value(cf, cmd, jlcf, &value[2]);
}


/* backend_jwt_wso2_claims apiname=A version=V [NAME=VALUE...] */
char *
ngx_http_backend_jwt_wso2_claims(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    size_t       i, n, first, count, *lens;
    ngx_str_t    text;
    const char **args;
    char         err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (ngx_http_backend_jwt_claims_init(cf, jlcf) != NGX_OK
        || ngx_http_backend_jwt_args(cf, 1, &args, &lens, &n) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    first = bjwt_claims_count(jlcf->claims);

    if (bjwt_claims_add_wso2(jlcf->claims, args, lens, n, err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    count = bjwt_claims_count(jlcf->claims);

    /* the recipe gives each claim's value as text that may hold variables */
    for (i = first; i < count; i++) {
        text.len = bjwt_claims_template(jlcf->claims, i, NULL, 0);
        text.data = ngx_pnalloc(cf->pool, text.len);
        if (text.data == NULL) {
            return NGX_CONF_ERROR;
        }

        bjwt_claims_template(jlcf->claims, i, text.data, text.len);

        if (ngx_http_backend_jwt_claim_value(cf, cmd, jlcf, &text)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* backend_jwt_audience value...: a string, or an array when several */
char *
ngx_http_backend_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    ngx_uint_t                 i, n;
    ngx_str_t                 *value;
    ngx_http_complex_value_t  *cv;

    if (jlcf->audience != NGX_CONF_UNSET_PTR) {
        return "is duplicate (give every audience in one directive)";
    }

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    value = cf->args->elts;
    n = cf->args->nelts;

    /* a last argument if_empty=... is the option, not an audience */
    if (n > 2 && value[n - 1].len > 9
        && ngx_strncmp(value[n - 1].data, "if_empty=", 9) == 0)
    {
        n--;

        if (ngx_http_backend_jwt_if_empty(cf, cmd, jlcf, &value[n])
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    jlcf->audience = ngx_array_create(cf->pool, n - 1,
                                      sizeof(ngx_http_complex_value_t));
    if (jlcf->audience == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < n; i++) {
        cv = ngx_array_push(jlcf->audience);
        if (cv == NULL
            || ngx_http_backend_jwt_compile(cf, &value[i], cv) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* backend_jwt_not_before on | off | time */
char *
ngx_http_backend_jwt_not_before(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    int64_t     leeway;
    ngx_str_t  *value;
    char        err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    if (jlcf->nbf_leeway != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    value = cf->args->elts;

    if (bjwt_parse_not_before((char *) value[1].data, value[1].len, &leeway,
                              err, sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    jlcf->nbf_leeway = (leeway < 0) ? NGX_HTTP_BACKEND_JWT_NBF_OFF
                                    : (ngx_int_t) leeway;

    return NGX_CONF_OK;
}


/* backend_jwt_cache size=N [min_remaining=TIME|P%] | off */
char *
ngx_http_backend_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    size_t       n, *lens;
    int64_t      size, seconds, percent;
    const char **args;
    char         err[NGX_HTTP_BACKEND_JWT_ERR_LEN];

    if (jlcf->cache_size != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    ngx_http_backend_jwt_mark(cf, cmd, conf);

    if (ngx_http_backend_jwt_args(cf, 1, &args, &lens, &n) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (bjwt_parse_cache(args, lens, n, &size, &seconds, &percent, err,
                         sizeof(err))
        != BJWT_OK)
    {
        return ngx_http_backend_jwt_conf_error(cf, cmd, err);
    }

    jlcf->cache_size = (ngx_int_t) size;
    jlcf->cache_min_seconds = seconds;
    jlcf->cache_min_percent = percent;

    return NGX_CONF_OK;
}


/* backend_jwt_max_size size: nginx's size slot, plus where it was set */
char *
ngx_http_backend_jwt_max_size(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    char  *rv;

    rv = ngx_conf_set_size_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK) {
        ngx_http_backend_jwt_mark(cf, cmd, conf);
        ngx_http_backend_jwt_where(cf, &jlcf->max_size_where);

        if (jlcf->max_size == 0) {
            return "must be more than 0 (it is the longest token sent)";
        }
    }

    return rv;
}


/* on | off directives: nginx's own flag slot, plus where it was set */
char *
ngx_http_backend_jwt_flag(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_backend_jwt_loc_conf_t *jlcf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);

    if (rv == NGX_CONF_OK) {
        ngx_http_backend_jwt_mark(cf, cmd, conf);

        if (cmd->offset == offsetof(ngx_http_backend_jwt_loc_conf_t, enforce))
        {
            ngx_http_backend_jwt_where(cf, &jlcf->enforce_where);
        }
    }

    return rv;
}
