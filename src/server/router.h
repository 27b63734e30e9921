// Router: exact-path routes with a method each. All routes are registered in
// routes.cc, so the API surface reads in one place.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "server/http_types.h"

namespace gantry::server {

struct Route {
  Handler handler;
  bool requires_auth = true;
};

class Router {
 public:
  void Add(const std::string& method, const std::string& path, Handler handler,
           bool requires_auth = true) {
    routes_[path][method] = Route{std::move(handler), requires_auth};
  }
  // Matches any path that starts with `prefix` and has more after it.
  void AddPrefix(const std::string& method, const std::string& prefix, Handler handler,
                 bool requires_auth = true) {
    prefixes_[prefix][method] = Route{std::move(handler), requires_auth};
  }
  // nullptr when absent; *path_known tells 404 from 405.
  const Route* Find(const std::string& method, const std::string& path, bool* path_known) const {
    const auto* methods = MethodsFor(path);
    *path_known = methods != nullptr;
    if (methods == nullptr) return nullptr;
    auto m = methods->find(method);
    return m == methods->end() ? nullptr : &m->second;
  }
  std::string AllowedMethods(const std::string& path) const {
    std::string out;
    if (const auto* methods = MethodsFor(path)) {
      for (const auto& [m, r] : *methods) out += (out.empty() ? "" : ", ") + m;
    }
    return out;
  }

 private:
  const std::map<std::string, Route>* MethodsFor(const std::string& path) const {
    if (auto p = routes_.find(path); p != routes_.end()) return &p->second;
    for (const auto& [prefix, methods] : prefixes_) {
      if (path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0)
        return &methods;
    }
    return nullptr;
  }

  std::map<std::string, std::map<std::string, Route>> routes_;
  std::map<std::string, std::map<std::string, Route>> prefixes_;
};

}  // namespace gantry::server
