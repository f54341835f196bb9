/*
 * backend_jwt.h: the C ABI of the nginx-backend-jwt core (libbackendjwt.so).
 *
 * The core owns the settings: the module hands it each backend_jwt_*
 * directive by name (bjwt_directive), asks it to merge each level into its
 * parent (bjwt_level_merge), and reads what a request in a location gets
 * (bjwt_level_location). Per request it evaluates the location's values and
 * mints (bjwt_signer_mint).
 *
 * Conventions: every int function returns BJWT_OK (0) or a non-zero status;
 * on failure a NUL-terminated message is written into `err` (at most
 * `err_cap` bytes, truncated if longer), ready for nginx's error log. Handles
 * are opaque and paired with a _free. Inputs are owned by the caller and may
 * be freed once the call returns; strings are (pointer, length) pairs and
 * need not be NUL-terminated. Nothing here touches threads or logs.
 */

#ifndef BACKEND_JWT_H
#define BACKEND_JWT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif


/* The release of nginx-backend-jwt: its one place. The module reports it
 * ($backend_jwt_version), build/deb.sh versions both packages with it and
 * backend-jwt-migrate --version prints it. Not part of the ABI. */
#define BJWT_VERSION  "0.1.0"

/* The version of this ABI. The module refuses a core that reports another
 * one (an old libbackendjwt.so left beside a new module). */
#define BJWT_ABI_VERSION  8

int bjwt_abi_version(void);


enum {
    BJWT_OK = 0,
    BJWT_ERR_CONFIG = 1,   /* a directive or a combination is invalid */
    BJWT_ERR_KEY = 2,      /* a key file cannot be read or used */
    BJWT_ERR_VALUE = 3,    /* a request value does not convert to its claim type */
    BJWT_ERR_SIGN = 4,     /* OpenSSL failed to sign */
    BJWT_ERR_SPACE = 5,    /* the output buffer is too small */
    BJWT_ERR_CERT = 6,     /* a certificate cannot be read or is not for the key */
    BJWT_ERR_TOKEN = 7,    /* the caller's token is refused (the message says why) */
    BJWT_ERR_UNKNOWN_KEY = 8,  /* refused: no key has its kid (a new JWK Set may) */
    BJWT_ERR_UNAVAILABLE = 9   /* no key to verify with: the JWK Set is not there */
};


/* An http block's settings beside its levels: value templates, the JWK Set. */
typedef struct bjwt_config bjwt_config;

/* The settings of one configuration level (http, server, location, if). */
typedef struct bjwt_level bjwt_level;

/* Mints the tokens of one location. */
typedef struct bjwt_signer bjwt_signer;

/* Verifies the callers' tokens of one location (backend_jwt_verify). */
typedef struct bjwt_verifier bjwt_verifier;

/* A caller's token that verified: its claims, for variables and minting. */
typedef struct bjwt_verified bjwt_verified;

/* What a verified caller must meet in one location (backend_jwt_verify_require
 * and backend_jwt_verify_require_claim). */
typedef struct bjwt_rules bjwt_rules;


/* --- configuration (called by the master while reading nginx.conf) --- */

/* `conf_prefix`: nginx's configuration prefix, for relative file names. */
bjwt_config *bjwt_config_create(const char *conf_prefix, size_t len);
void bjwt_config_free(bjwt_config *config);

bjwt_level *bjwt_level_create(void);
void bjwt_level_free(bjwt_level *level);

/* What the location already has as its content handler. */
enum { BJWT_HANDLER_NONE = 0, BJWT_HANDLER_JWKS = 1, BJWT_HANDLER_OTHER = 2,
       BJWT_HANDLER_ANSWER = 3 };

/*
 * Applies one backend_jwt_* directive: its name, its arguments after the
 * name, the file and line it stands at. The message of an error is complete
 * (nginx adds " in file:line"). *content is set to BJWT_HANDLER_JWKS when the
 * location is to serve the JWK Set, BJWT_HANDLER_ANSWER when it is to answer
 * 204 once the caller's token verified (the module makes that its content
 * handler), else BJWT_HANDLER_NONE. The
 * values it adds are templates (text with $variables) for the module to
 * compile: bjwt_config_templates tells how many there are now.
 */
int bjwt_directive(bjwt_config *config, bjwt_level *level,
                   const char *name, size_t name_len,
                   const char *const *args, const size_t *arg_lens,
                   size_t nargs, const char *file, size_t file_len,
                   size_t line, int handler, int *content,
                   char *err, size_t err_cap);

size_t bjwt_config_templates(const bjwt_config *config);

/* Template `index`: its text and length (valid while the config lives). */
const char *bjwt_config_template(const bjwt_config *config, size_t index,
                                 size_t *len);

/* What nginx's configuration says of a level that its settings do not. */
typedef struct {
    int                 in_location;  /* an if or limit_except block */
    int                 handler;      /* BJWT_HANDLER_* */
    const char         *location;     /* its name, for messages */
    size_t              location_len;
    const char         *dropped;      /* the *_pass_request_headers that is
                                         off there, NUL-terminated, or NULL */
} bjwt_level_facts;

/* Merges `child` into its enclosing level `parent`: inheritance, defaults,
 * the checks that need both, the signer of an enabled level. The message of
 * an error is complete, with the file and line it is about. */
int bjwt_level_merge(bjwt_config *config, const bjwt_level *parent,
                     bjwt_level *child, const bjwt_level_facts *facts,
                     char *err, size_t err_cap);

/* A value bjwt_signer_mint takes that the location leaves unset. */
#define BJWT_NO_VALUE  ((size_t) -1)

/* What a request in a merged location gets. Pointers stay valid while the
 * level lives. */
typedef struct {
    int                 enabled;
    const char         *header;       /* the header's name; len 0: none */
    size_t              header_len;
    bjwt_signer        *signer;       /* NULL unless enabled */
    size_t              max_size;     /* the longest token sent */
    const void         *origin;       /* equal for an if block and its
                                         location: one token per request */
    const size_t       *values;       /* template indexes in mint order, or
                                         BJWT_NO_VALUE */
    size_t              nvalues;
    const char         *scheme;       /* before the token in the header's
                                         value ("Bearer"); len 0: none */
    size_t              scheme_len;

    bjwt_verifier      *verifier;     /* NULL: backend_jwt_verify off */
    size_t              token;        /* template of token=, or BJWT_NO_VALUE:
                                         "Authorization: Bearer ..." */
    int                 drop_authorization;  /* the caller's Authorization
                                         goes no further: it carries the token
                                         verified here, and
                                         backend_jwt_verify_forward is off */
    bjwt_rules         *rules;        /* NULL: none */
    const size_t       *rule_values;  /* the templates bjwt_rules_check reads */
    size_t              nrule_values;
    const char         *jwks_uri;     /* backend_jwt_verify_jwks; len 0: none */
    size_t              jwks_uri_len;
    const char         *jwks_place;   /* where it is set: "file:line" */
    size_t              jwks_place_len;

    /* WWW-Authenticate of a refusal (RFC 6750, with backend_jwt_verify_realm):
     * no token, an invalid one, one that lacks what a rule requires (403) */
    const char         *challenge[3];
    size_t              challenge_len[3];
    int64_t             jwks_wait;    /* backend_jwt_verify_jwks_wait, ms */
} bjwt_location;

enum { BJWT_CHALLENGE_MISSING = 0, BJWT_CHALLENGE_INVALID = 1,
       BJWT_CHALLENGE_SCOPE = 2 };

int bjwt_level_location(const bjwt_level *level, bjwt_location *out);

/* The JWK Set JSON and its quoted ETag, once every level is merged: written
 * into `out` if it fits; return the length. */
size_t bjwt_config_jwks_json(const bjwt_config *config, unsigned char *out,
                             size_t cap);
size_t bjwt_config_jwks_etag(const bjwt_config *config, unsigned char *out,
                             size_t cap);


/* --- per request (called by workers) --- */

/* Why a request is refused: the words of $backend_jwt_in_error and of the
 * reason label of backend_jwt_verify_refused_total (bjwt_refusal_word). */
enum {
    BJWT_VERIFIED = 0,          /* not refused */
    BJWT_REFUSED_MISSING = 1,   /* no token */
    BJWT_REFUSED_MALFORMED = 2,
    BJWT_REFUSED_SIGNATURE = 3,
    BJWT_REFUSED_UNKNOWN_KID = 4,
    BJWT_REFUSED_ALGORITHM = 5,
    BJWT_REFUSED_EXPIRED = 6,
    BJWT_REFUSED_NOT_YET_VALID = 7,
    BJWT_REFUSED_ISSUER = 8,
    BJWT_REFUSED_AUDIENCE = 9,
    BJWT_REFUSED_REQUIRE = 10,  /* a backend_jwt_verify_require condition */
    BJWT_REFUSED_NO_KEYS = 11,  /* no key to verify with (503) */
    BJWT_VERDICTS = 12
};

/* The word of a BJWT_REFUSED_* ("unknown_kid"); "" for BJWT_VERIFIED or an
 * unknown value. Static: valid while the core is loaded. */
const char *bjwt_refusal_word(int refusal, size_t *len);

/* What the check of a caller's token gives a request: the core decides the
 * status and the challenge of every refusal, so every host answers alike. */
typedef struct {
    int                 status;       /* 0: the caller passed; else 401, 403
                                         or 503 */
    int                 reason;       /* BJWT_VERIFIED or BJWT_REFUSED_* */
    int                 challenge;    /* the WWW-Authenticate to send, by
                                         BJWT_CHALLENGE_*; -1: none */
    int                 refetch;      /* no key verified the token and the
                                         verifier fetches a JWK Set: a new
                                         set may bring one */
} bjwt_verdict;

/* Where the caller's token is read from: */
enum {
    BJWT_TOKEN_AUTHORIZATION = 0,  /* the Authorization header's value ("Bearer
                                      <token>", the scheme in any case); NULL:
                                      no such header */
    BJWT_TOKEN_VALUE = 1           /* backend_jwt_verify's token= value */
};

/*
 * Verifies a caller's token, found in `text` as `source` says, at time
 * `now`. BJWT_OK: *out is the verified token, to be freed with
 * bjwt_verified_free, and verdict->status 0. Else refused: *verdict says how
 * to answer and why in a word, `err` in the error log's words ("no token:
 * ...", "token refused: ...", "no verification key: ..."; never quoting the
 * token), at level error for a 503, info otherwise.
 */
int bjwt_verify(bjwt_verifier *verifier, int64_t now, int source,
                const unsigned char *text, size_t len, bjwt_verified **out,
                bjwt_verdict *verdict, char *err, size_t err_cap);

/* The usual verdict of a refusal for `reason` (BJWT_REFUSED_*; any other
 * value refuses as BJWT_REFUSED_MALFORMED: never a pass). */
void bjwt_verdict_of(int reason, bjwt_verdict *out);

void bjwt_verified_free(bjwt_verified *verified);

/* What a claim variable finds: */
enum {
    BJWT_CLAIM_FOUND = 0,
    BJWT_CLAIM_ABSENT = 1,
    BJWT_CLAIM_AMBIGUOUS = 2,   /* two members match the name in any case */
    BJWT_CLAIM_UNPRINTABLE = 3  /* a string with a control character other
                                   than tab: no header line may carry it */
};

/* A top-level claim by the name of $backend_jwt_in_claim_NAME (nginx has
 * lowercased it: members match in any letter case, and only one may), as
 * text: a string unescaped, any other JSON value as compact JSON. */
int bjwt_verified_claim(bjwt_verified *verified, const char *name, size_t len,
                        const unsigned char **out, size_t *out_len);

/* The same of a JOSE header member ($backend_jwt_in_header_NAME). */
int bjwt_verified_header(bjwt_verified *verified, const char *name,
                         size_t len, const unsigned char **out,
                         size_t *out_len);

/* The claim of backend_jwt_verify_claim_set number `index`, by its path
 * (exact names). */
int bjwt_verified_claim_set(bjwt_verified *verified,
                            const bjwt_config *config, size_t index,
                            const unsigned char **out, size_t *out_len);

/* The variables of backend_jwt_verify_claim_set: how many, and the name
 * (without $) of one. */
size_t bjwt_config_claim_sets(const bjwt_config *config);
const char *bjwt_config_claim_set(const bjwt_config *config, size_t index,
                                  size_t *len);

/* Whether the verified caller meets a location's rules, `values` holding the
 * texts of its rule_values templates in order: BJWT_OK, or BJWT_ERR_TOKEN
 * with *verdict a 401 or 403 and `err` saying which rule is not met ("token
 * refused: ..."; 401 when `verified` is NULL; `rules` NULL: none). */
int bjwt_rules_check(const bjwt_rules *rules, bjwt_verified *verified,
                     const unsigned char *const *values,
                     const size_t *value_lens, size_t nvalues,
                     bjwt_verdict *verdict, char *err, size_t err_cap);

/* The claims as compact JSON. */
const unsigned char *bjwt_verified_payload(bjwt_verified *verified,
                                           size_t *out_len);

/* (What both return stays valid while the verified token lives.) */


/*
 * The JWK Set of backend_jwt_verify_jwks, one per URI for the whole nginx:
 * the module keeps its bytes and this state in shared memory (every worker,
 * across reloads), and calls the core under the zone's lock to decide; each
 * worker parses the bytes once per generation. Zeroed: never fetched. The
 * module writes `generation` (it stores the bytes); the core every other
 * field. Plain integers, so a copy is never torn and any process may read it.
 */
typedef struct {
    int64_t   generation;      /* of the stored set, unique in the zone;
                                  0: none */
    int64_t   fetched_at;      /* of the stored set */
    int64_t   fresh_until;
    int64_t   last_failure;    /* 0: none since the last good fetch */
    int64_t   last_refresh;    /* the last refetch an unknown kid got */
    int64_t   fetch_id;        /* the running fetch; 0: none */
    int64_t   fetch_owner;     /* the pid of the worker that runs it */
    int64_t   fetch_started;
    int64_t   fetch_for_miss;  /* it was an unknown kid's refetch */
    int64_t   miss_requested;  /* an unknown kid's refetch is still due */
    int64_t   last_fetch_id;
    /* counters since the zone was made (for a status page) */
    int64_t   fetches;         /* begun */
    int64_t   failures;
    int64_t   refetches;       /* granted to unknown kids */
    int64_t   last_error_at;   /* of the zone's error text; 0: never */
} bjwt_jwks_shared;

/* What a request does about the set (bjwt_jwks_decide). */
enum {
    BJWT_JWKS_READY = 0,        /* verify with the keys there are */
    BJWT_JWKS_FETCH = 1,        /* start fetch shared->fetch_id, then as
                                   READY (a stale set serves meanwhile) */
    BJWT_JWKS_UNAVAILABLE = 2,  /* no usable key, and no fetch now */
    BJWT_JWKS_WAIT = 3,         /* a fetch runs (shared->fetch_id) that the
                                   request may wait for */
    BJWT_JWKS_REFUSE = 4        /* an unknown kid gets no refetch now */
};

/*
 * Under the zone's lock. `shared` is the URI's record; `error` its last
 * error text; `owner` this worker's pid; `owner_alive` 0 when the worker
 * that runs shared->fetch_id is gone (its fetch is then lost). `miss`: the
 * token named a kid no key has (READY is then REFUSE). FETCH: this request
 * runs the fetch (marked as running in `shared`). *retry_after: the seconds
 * a client should wait before trying again when no key is usable. *take: 1
 * when this worker has not parsed the stored set: the module copies its
 * bytes under the lock and hands them to bjwt_jwks_take after it.
 */
int bjwt_jwks_decide(bjwt_verifier *verifier, bjwt_jwks_shared *shared,
                     const char *error, size_t error_len, int64_t now,
                     int64_t owner, int owner_alive, int miss,
                     int64_t *retry_after, int *take);

/*
 * One request's wait for a JWK Set fetch, after its token found no key
 * (verdict.refetch): the module keeps it per request (zeroed at first) and
 * paces the wait with its timers; the core keeps the rules: an unknown kid
 * gets one refetch per request (another if that fetch was lost), and a
 * request waits at most backend_jwt_verify_jwks_wait in all.
 */
typedef struct {
    int64_t   since;           /* when it began to wait, ms; */
    int       waited;          /* ... once it has */
    int       waiting;         /* it waits for fetch `fetch` (0: for a set
                                  that came meanwhile) */
    int64_t   fetch;
    int       refetched;       /* its unknown kid had its refetch */
} bjwt_jwks_wait;

/* The `miss` to hand bjwt_jwks_decide for a token that found no key (1: an
 * unknown kid, 0: no usable set), or -1: its verdict stands. */
int bjwt_jwks_wait_miss(const bjwt_jwks_wait *wait,
                        const bjwt_verdict *verdict);

/* After bjwt_jwks_decide said `decision` (BJWT_JWKS_*) with `fetch` the
 * running fetch: 1 when the request waits (the module looks again every
 * BJWT_JWKS_POLL_MS), 0 when its verdict stands. `now` and `limit` in ms. */
int bjwt_jwks_wait_start(bjwt_jwks_wait *wait, int decision, int64_t fetch,
                         int miss, int64_t now, int64_t limit);

/* Looked again at a waiting request's fetch, `running` BJWT_FETCH_*: 1 when
 * it waits on, 0 when its token is to be verified again. */
enum { BJWT_FETCH_OVER = 0, BJWT_FETCH_RUNNING = 1, BJWT_FETCH_LOST = 2 };
int bjwt_jwks_wait_again(bjwt_jwks_wait *wait, int running, int64_t now,
                         int64_t limit);

#define BJWT_JWKS_POLL_MS  10

/* A stored set's bytes to parse (outside the lock) as this worker's keys of
 * that generation. */
int bjwt_jwks_take(bjwt_verifier *verifier, int64_t generation,
                   const unsigned char *body, size_t len,
                   char *err, size_t err_cap);

/* A fetch's response, outside the lock: BJWT_OK when it is a usable set
 * (the module stores its bytes), else `err` says why it is not used. */
int bjwt_jwks_check(bjwt_verifier *verifier, int status,
                    const unsigned char *body, size_t len,
                    char *err, size_t err_cap);

/* Under the lock: fetch `fetch_id` ended, its set stored (`failure` NULL)
 * or not used for the reason given; freshness from `cache_control`. A
 * fetch that is no longer the running one changes nothing. */
void bjwt_jwks_finished(bjwt_verifier *verifier, bjwt_jwks_shared *shared,
                        int64_t fetch_id, const char *failure,
                        size_t failure_len,
                        const unsigned char *cache_control,
                        size_t cache_control_len, int64_t now);

/* Under the lock: fetch `fetch_id` ended with no verdict on the identity
 * provider (its request went away): the next request fetches. */
void bjwt_jwks_give_up(bjwt_verifier *verifier, bjwt_jwks_shared *shared,
                       int64_t fetch_id);

/* The largest JWK Set body the core takes, in bytes: the module stops
 * reading a fetch's body past it. */
size_t bjwt_jwks_max_body(void);

/* backend_jwt_verify_jwks_zone: the size of the zone, in bytes. */
size_t bjwt_config_jwks_zone_size(const bjwt_config *config);


/* An upper bound of the token length for values totalling `value_bytes`
 * and the caller's token (or NULL). */
size_t bjwt_signer_token_bound(const bjwt_signer *signer, size_t value_bytes,
                               const bjwt_verified *caller);

/*
 * Mints one token at time `now` (seconds since the epoch) into `out`.
 * `caller`: the verified token whose claims are copied and whose exp the
 * token does not outlive, or NULL. `values` holds the location's nvalues
 * entries, in order; a NULL or empty value is left out (unless its if_empty
 * says otherwise). On success *out_len is the token length (no NUL); a token
 * longer than `max_size` (backend_jwt_max_size) fails with BJWT_ERR_SPACE.
 */
int bjwt_signer_mint(bjwt_signer *signer, int64_t now,
                     const bjwt_verified *caller,
                     const unsigned char *const *values,
                     const size_t *value_lens, size_t nvalues,
                     unsigned char *out, size_t out_cap, size_t *out_len,
                     size_t max_size, char *err, size_t err_cap);


/* --- status (backend_jwt_status) --- */

/*
 * The counters of an http block live in memory every worker shares (an
 * nginx shared memory zone): bjwt_metrics_size bytes for the block, and
 * bjwt_jwks_metrics_size bytes for each of its bjwt_config_jwks_count JWK Set
 * URIs (in the order of bjwt_config_jwks_uri), zeroed when new, 8-byte
 * aligned, outliving the configuration. Each is an array of uint64_t added
 * to with atomic adds. The module counts one verdict per request in the
 * first BJWT_VERDICTS: [BJWT_VERIFIED] or [BJWT_REFUSED_*]; the core counts
 * everything else. Before bjwt_config_metrics the core counts in memory of
 * its own (per process).
 */
size_t bjwt_metrics_size(void);
size_t bjwt_jwks_metrics_size(void);
size_t bjwt_config_jwks_count(const bjwt_config *config);
const char *bjwt_config_jwks_uri(const bjwt_config *config, size_t index,
                                 size_t *len);
void bjwt_config_metrics(bjwt_config *config, void *counters,
                         void *const *jwks, size_t njwks);

enum { BJWT_STATUS_JSON = 0, BJWT_STATUS_PROMETHEUS = 1 };

/* The report's format for the value of its ?format= argument (NULL: none
 * given: JSON), and *content_type its media type (static, NUL-terminated);
 * -1: no such format (the module answers 400). */
int bjwt_status_format(const unsigned char *arg, size_t len,
                       const char **content_type);

/* The status report of the counters now and of this worker's JWK Sets:
 * written into `out` if it fits; returns its length. */
size_t bjwt_status_render(const bjwt_config *config, int format,
                          unsigned char *out, size_t cap);


#ifdef __cplusplus
}
#endif

#endif /* BACKEND_JWT_H */
