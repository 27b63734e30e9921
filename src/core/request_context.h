// RequestContext: what every stage of a request needs to know about it.
//
// Built by server/ for each request and passed by const reference down the
// pipeline. The CancelSource is shared: whoever detects a disconnect or an
// expired deadline cancels it, and every stage holding a resource listens.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/clock.h"

namespace gantry {

struct RequestContext {
  std::string request_id;          // also returned to the client (x-request-id)
  std::string tenant = "default";  // owning tenant
  std::string key_id;              // id of the API key used ("" in dev mode)
  // Who the request acts as for document ACLs (the key id and its groups); a
  // document with an ACL is visible when one of these is in it.
  std::vector<std::string> principals;
  bool all_documents = false;  // admin: sees every document of the tenant
  Deadline deadline;           // whole-request deadline
  std::shared_ptr<CancelSource> cancel = CancelSource::Create();
  const Clock* clock = &SystemClock::Get();
};

}  // namespace gantry
