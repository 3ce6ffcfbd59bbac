#include "src/remote/url.h"

#include <charconv>

namespace ucache::remote_internal {
namespace {

bool ParseInt(std::string_view s, int64_t min, int64_t max, int64_t* out) {
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  return !s.empty() && ec == std::errc() && p == end && *out >= min &&
         *out <= max;
}

Status Bad(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("remote URL " + std::string(url) + ": " +
                                 std::string(why));
}

// Applies "db=N&weight=N".
Status ParseQuery(std::string_view url, std::string_view query, bool allow_db,
                  Endpoint* e) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    const size_t eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? "" : item.substr(eq + 1);
    int64_t n = 0;
    if (name == "db" && allow_db && ParseInt(value, 0, 1 << 20, &n)) {
      e->db = static_cast<int>(n);
    } else if (name == "weight" && ParseInt(value, 1, 1 << 20, &n)) {
      e->weight = static_cast<uint32_t>(n);
    } else {
      return Bad(url, "unknown or bad query item " + std::string(item));
    }
  }
  return Status::OK();
}

// Takes "[user:]password@" off the front of `rest`.
void TakeCredentials(std::string_view* rest, Endpoint* e) {
  const size_t at = rest->rfind('@');
  if (at == std::string_view::npos) return;
  const std::string_view cred = rest->substr(0, at);
  *rest = rest->substr(at + 1);
  const size_t colon = cred.find(':');
  if (colon == std::string_view::npos) {
    e->password = std::string(cred);
  } else {
    e->user = std::string(cred.substr(0, colon));
    e->password = std::string(cred.substr(colon + 1));
  }
}

}  // namespace

std::string Endpoint::Name() const {
  std::string name =
      socket_path.empty()
          ? (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                ":" + std::to_string(port)
          : socket_path;
  if (db != 0) name += "/" + std::to_string(db);
  return name;
}

Result<Endpoint> ParseUrl(std::string_view url) {
  Endpoint e;
  std::string_view rest;
  bool unix_socket = false;
  if (url.starts_with("redis://")) {
    rest = url.substr(8);
  } else if (url.starts_with("redis+unix://")) {
    rest = url.substr(13);
    unix_socket = true;
  } else if (url.starts_with("redis+unix:")) {
    rest = url.substr(11);
    unix_socket = true;
  } else {
    return Bad(url, "expected redis:// or redis+unix://");
  }
  const size_t q = rest.find('?');
  const std::string_view query =
      q == std::string_view::npos ? "" : rest.substr(q + 1);
  rest = rest.substr(0, q);
  TakeCredentials(&rest, &e);
  if (unix_socket) {
    if (!rest.starts_with("/"))
      return Bad(url, "the socket path must be absolute");
    e.socket_path = std::string(rest);
  } else {
    const size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      int64_t db = 0;
      if (!ParseInt(rest.substr(slash + 1), 0, 1 << 20, &db)) {
        return Bad(url, "bad database number");
      }
      e.db = static_cast<int>(db);
      rest = rest.substr(0, slash);
    }
    size_t port_at = rest.rfind(':');
    if (rest.starts_with("[")) {
      const size_t close = rest.find(']');
      if (close == std::string_view::npos) return Bad(url, "unclosed [");
      e.host = std::string(rest.substr(1, close - 1));
      port_at = close + 1 < rest.size() && rest[close + 1] == ':'
                    ? close + 1
                    : std::string_view::npos;
    } else {
      e.host = std::string(rest.substr(0, port_at));
    }
    if (port_at != std::string_view::npos) {
      int64_t port = 0;
      if (!ParseInt(rest.substr(port_at + 1), 1, 65535, &port)) {
        return Bad(url, "bad port");
      }
      e.port = static_cast<int>(port);
    }
    if (e.host.empty()) return Bad(url, "no host");
  }
  if (Status s = ParseQuery(url, query, unix_socket, &e); !s.ok()) return s;
  return e;
}

Result<std::vector<Endpoint>> ParseUrls(std::string_view urls) {
  std::vector<Endpoint> out;
  while (!urls.empty()) {
    const size_t space = urls.find_first_of(" \t\n");
    const std::string_view one = urls.substr(0, space);
    urls = space == std::string_view::npos ? "" : urls.substr(space + 1);
    if (one.empty()) continue;
    Result<Endpoint> e = ParseUrl(one);
    if (!e.ok()) return e.status();
    out.push_back(std::move(*e));
  }
  if (out.empty()) return Status::InvalidArgument("no remote URL given");
  return out;
}

}  // namespace ucache::remote_internal
