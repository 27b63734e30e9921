// RequestContext: what every stage of a request needs to know about it.
//
// Built by server/ for each request and passed by const reference down the
// pipeline. The CancelSource is shared: whoever detects a disconnect or an
// expired deadline cancels it, and every stage holding a resource listens.
#pragma once

#include <memory>
#include <string>

#include "core/cancel.h"
#include "core/clock.h"

namespace gantry {

struct RequestContext {
  std::string request_id;          // also returned to the client (x-request-id)
  std::string tenant = "default";  // owning tenant
  std::string key_id;              // id of the API key used ("" in dev mode)
  Deadline deadline;               // whole-request deadline
  std::shared_ptr<CancelSource> cancel = CancelSource::Create();
  const Clock* clock = &SystemClock::Get();
};

}  // namespace gantry
