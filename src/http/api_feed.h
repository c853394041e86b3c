/* REST handlers of what the server reports rather than what devices hold: the event stream
 * (/api/events, server-sent events), the audit log (/api/audit) and monitor alerts
 * (/api/alerts); and the audit entry other handlers write. Owns nothing beyond a request. */
#ifndef NB_HTTP_API_FEED_H
#define NB_HTTP_API_FEED_H

#include "http/httpd.h"

enum MHD_Result nb_api_events(nb_http_req *rq);
enum MHD_Result nb_api_audit_list(nb_http_req *rq);
enum MHD_Result nb_api_alerts_list(nb_http_req *rq);
enum MHD_Result nb_api_alerts_post(nb_http_req *rq);

/* Appends one audit entry for rq's actor (nothing without a store). */
void nb_api_audit(nb_http_req *rq, const char *op, const char *ep, const char *path,
                  const char *result);

#endif
