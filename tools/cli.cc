#include "tools/cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <istream>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "ucache/ucache.h"

namespace ucache::cli {
namespace {

// A TTL beyond a century is almost certainly a typo (milliseconds given as
// seconds, say); refusing it also keeps seconds * 1000 far from overflow.
constexpr int64_t kMaxTtlSeconds = int64_t{100} * 365 * 24 * 3600;

constexpr char kFooter[] = R"(Exit codes:
  0  success (get: the key was found; verify: the store is clean)
  1  get: the key was not found
  2  bad arguments, or a call failed (the reason is printed on stderr)
  3  verify: corruption was found

Keys are taken from the command line as raw bytes: any byte but NUL, at
least 1 and at most 65536 of them. Write `--` before a key that starts
with '-', e.g. `ucache get DIR -- -k`.
)";

constexpr char kLsFooter[] =
    R"(Keys are printed in bytewise order. Printable ASCII bytes appear as they
are, a backslash as \\, and every other byte (newline, tab, any control or
non-ASCII byte) as \xNN with two lowercase hex digits, so that each line is
exactly one key.

)";

constexpr char kVerifyFooter[] =
    R"(Reads every record of the log and every slot of the index and prints what
it found; it never writes to DIR. Exit 0 when clean, 3 when corruption was
found, 2 when DIR is not a store or cannot be read.

)";

constexpr char kCompactFooter[] =
    R"(Prints the store's file bytes before and after and their ratio (after /
before). When stdout is a terminal, a progress bar is drawn on stderr.

)";

// The streams and settings every subcommand shares.
struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  const CliOptions& options;
};

// What the command line said, filled in by CLI11.
struct Args {
  std::string dir;  // a store directory or redis URLs (IsRemote)
  std::string prefix = RemoteOptions().key_prefix;
  std::string key;
  int64_t ttl_seconds = 0;
  bool json = false;
};

int Fail(const Io& io, std::string_view what, const Status& status) {
  io.err << "ucache: " << what << ": " << status.ToString() << "\n";
  return kExitError;
}

Status CheckKey(std::string_view key) {
  if (key.empty()) return Status::InvalidArgument("the key is empty");
  if (key.size() > FileCache::kMaxKeyBytes) {
    return Status::InvalidArgument("the key is " + std::to_string(key.size()) +
                                   " bytes, more than the limit of " +
                                   std::to_string(FileCache::kMaxKeyBytes));
  }
  return Status::OK();
}

// A STORE naming Redis servers rather than a directory: the URLs
// RemoteCache::Open reads, space-separated for several shards.
bool IsRemote(std::string_view store) {
  return store.starts_with("redis://") || store.starts_with("redis+unix://");
}

// Failures of a remote command name the servers: with several stores in a
// script, "connection refused" alone does not say which one is down.
int RemoteFail(const Io& io, std::string_view what, const Args& args,
               const Status& status) {
  return Fail(io, std::string(what) + ": " + args.dir, status);
}

Result<std::unique_ptr<RemoteCache>> OpenRemote(const Args& args) {
  RemoteOptions options;
  options.key_prefix = args.prefix;
  // The process exits right after the command: a queued write would be
  // reported as done before it landed, or dropped at the drain timeout.
  options.write_behind = false;
  // An opening breaker logs a warning; the command reports the same failure
  // as its one line, so the warning would only repeat it.
  options.log = [](LogLevel, std::string_view) {};
  return RemoteCache::Open(args.dir, options);
}

// Get answers a failing server with nullopt, as it does a miss; the breaker
// tells them apart, since one failure opens it.
Status RemoteHealth(const RemoteCache& cache) {
  if (cache.healthy()) return Status::OK();
  return Status::Unavailable(cache.reason());
}

enum class Access {
  kCreate,  // put: make the directory and the store when missing
  kWrite,   // rm, clear, compact: an existing store, written to
  kRead,    // get, ls, stats, verify: an existing store, never written
};

Result<std::unique_ptr<FileCache>> OpenStore(const std::string& dir,
                                             Access access) {
  FileCacheOptions options;
  if (access != Access::kCreate) {
    // Checked here rather than left to Open so that a mistyped path never
    // becomes a new store, and a directory that holds something else is not
    // touched at all, whatever the engine would do with it. Reading commands
    // leave the rest to a read-only Open, which never writes and reads a
    // store being created (no index yet) as an empty one: a `get` racing
    // the first `put` is a miss, not an error.
    if (access == Access::kRead || !IsStore(dir)) {
      namespace fs = std::filesystem;
      std::error_code ec;
      const fs::file_type type = fs::status(dir, ec).type();
      if (type == fs::file_type::not_found) {
        return Status::IOError(dir + ": no such directory");
      }
      if (ec) return Status::IOError(dir + ": " + ec.message());
      if (type != fs::file_type::directory) {
        return Status::NotAStore(dir + " is not a directory");
      }
      if (access == Access::kWrite) {
        return Status::NotAStore(dir + " holds no ucache store");
      }
    }
    options.create_if_missing = false;
    options.read_only = access == Access::kRead;
  }
  return FileCache::Open(dir, options);
}

// Reads all of `in` into `*value`, refusing more than a value may hold
// before allocating it.
Status ReadAll(std::istream& in, std::string* value) {
  std::string chunk(size_t{1} << 16, '\0');
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    const auto n = static_cast<size_t>(in.gcount());
    if (value->size() + n > FileCache::kMaxValueBytes) {
      return Status::InvalidArgument(
          "the value on stdin is larger than the limit of " +
          std::to_string(FileCache::kMaxValueBytes) + " bytes");
    }
    value->append(chunk.data(), n);
  }
  if (in.bad()) return Status::IOError("reading stdin failed");
  return Status::OK();
}

Status Write(std::ostream& out, std::string_view data) {
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.flush();
  if (!out) return Status::IOError("writing stdout failed");
  return Status::OK();
}

std::string FormatDouble(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// A byte count for people: exact, then rounded to a binary unit.
std::string Bytes(uint64_t n) {
  return std::to_string(n) + " (" + HumanBytes(n) + ")";
}

// Prints "name: value" lines with the values in one column.
void PrintAligned(
    std::ostream& out,
    const std::vector<std::pair<std::string_view, std::string>>& lines) {
  size_t width = 0;
  for (const auto& line : lines) width = std::max(width, line.first.size());
  for (const auto& [name, value] : lines) {
    out << name << ':' << std::string(width - name.size() + 1, ' ') << value
        << '\n';
  }
}

// JSON has no NaN or infinity; a ratio is finite by construction, but a
// malformed document would be worse than a null.
std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  if (ec != std::errc()) return "null";
  return std::string(buf, end);
}

// A one-line bar redrawn in place with '\r'. The engine may report progress
// from any thread, hence the lock.
class ProgressBar {
 public:
  explicit ProgressBar(std::ostream& err) : err_(err) {}

  void Update(uint64_t done, uint64_t total) {
    std::lock_guard<std::mutex> lock(mu_);
    DrawLocked(done, total);
  }

  // Ends the bar's line so that later output starts on a fresh one. On
  // success the bar is shown full: records dropped as corrupt during the
  // copy never count as done, and a finished job stuck at 97% would look
  // like a failure.
  void Finish(bool succeeded) {
    std::lock_guard<std::mutex> lock(mu_);
    if (last_permille_ < 0) return;
    if (succeeded) DrawLocked(last_total_, last_total_);
    err_ << '\n' << std::flush;
  }

 private:
  static constexpr int kWidth = 30;

  void DrawLocked(uint64_t done, uint64_t total) {
    last_total_ = total;
    const double fraction = total == 0
                                ? 1.0
                                : std::min(1.0, static_cast<double>(done) /
                                                    static_cast<double>(total));
    const int permille = static_cast<int>(fraction * 1000);
    // Redraw only on a visible change: the engine may call back often.
    if (permille == last_permille_) return;
    last_permille_ = permille;
    const int filled = permille * kWidth / 1000;
    std::string line = "\r[" + std::string(filled, '#') +
                       std::string(kWidth - filled, ' ') + "] " +
                       FormatDouble(permille / 10.0, 1) + "% " +
                       HumanBytes(done) + " / " + HumanBytes(total);
    // Blank out whatever a longer previous line left behind.
    const size_t shown = line.size();
    if (shown < last_size_) line.append(last_size_ - shown, ' ');
    last_size_ = shown;
    err_ << line << std::flush;
  }

  std::ostream& err_;
  std::mutex mu_;
  // Guarded by mu_.
  int last_permille_ = -1;  // -1 until the first draw
  size_t last_size_ = 0;
  uint64_t last_total_ = 0;
};

// --ttl's first check, before CLI11 converts the text: "1.5" or "abc" would
// otherwise read as out of range.
CLI::Validator WholeSeconds() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool digits =
            !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
              return c >= '0' && c <= '9';
            });
        if (digits) return "";
        return "\"" + text +
               "\" is not a whole number of seconds (0 means never expire)";
      },
      "");
}

bool IsSubcommand(const CLI::App& app, std::string_view name) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == name) return true;
  }
  return false;
}

// "put, get, rm, ...", in the order they were added.
std::string SubcommandNames(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (!names.empty()) names += ", ";
    names += sub->get_name();
  }
  return names;
}

// The first argument before any `--` that looks like an option but is none
// of the app's or its subcommands' (a key such as "-k", most likely), or null.
const char* UnknownDashArgument(const CLI::App& app, int argc,
                                const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") return nullptr;
    if (arg.size() < 2 || arg.front() != '-') continue;
    const std::string name(arg.substr(0, arg.find('=')));
    bool known = app.get_option_no_throw(name) != nullptr;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known = known || sub->get_option_no_throw(name) != nullptr;
    }
    if (!known) return argv[i];
  }
  return nullptr;
}

int Put(const Io& io, const Args& args) {
  if (Status s = CheckKey(args.key); !s.ok()) return Fail(io, "put", s);
  std::string value;
  // Read before opening, so that a failed read leaves no new store behind.
  if (Status s = ReadAll(io.in, &value); !s.ok()) return Fail(io, "put", s);
  const std::chrono::milliseconds ttl = std::chrono::seconds(args.ttl_seconds);
  if (IsRemote(args.dir)) {
    auto remote = OpenRemote(args);
    if (!remote.ok()) return RemoteFail(io, "put", args, remote.status());
    if (Status s = (*remote)->Put(args.key, value, ttl); !s.ok()) {
      return RemoteFail(io, "put", args, s);
    }
    return kExitOk;
  }
  auto cache = OpenStore(args.dir, Access::kCreate);
  if (!cache.ok()) return Fail(io, "put", cache.status());
  if (Status s = (*cache)->Put(args.key, value, ttl); !s.ok()) {
    return Fail(io, "put", s);
  }
  return kExitOk;
}

int Get(const Io& io, const Args& args) {
  if (Status s = CheckKey(args.key); !s.ok()) return Fail(io, "get", s);
  if (IsRemote(args.dir)) {
    auto remote = OpenRemote(args);
    if (!remote.ok()) return RemoteFail(io, "get", args, remote.status());
    std::optional<RemoteCache::Value> value = (*remote)->Get(args.key);
    if (Status s = RemoteHealth(**remote); !s.ok()) {
      return RemoteFail(io, "get", args, s);
    }
    if (!value) return kExitMiss;
    if (Status s = Write(io.out, value->data); !s.ok()) {
      return Fail(io, "get", s);
    }
    return kExitOk;
  }
  auto cache = OpenStore(args.dir, Access::kRead);
  if (!cache.ok()) return Fail(io, "get", cache.status());
  ValueView view;
  Status s = (*cache)->GetView(args.key, &view);
  if (s.IsNotFound()) return kExitMiss;  // a miss is an answer, not an error
  if (!s.ok()) return Fail(io, "get", s);
  if (s = Write(io.out, view.data()); !s.ok()) return Fail(io, "get", s);
  return kExitOk;
}

int Rm(const Io& io, const Args& args) {
  if (Status s = CheckKey(args.key); !s.ok()) return Fail(io, "rm", s);
  if (IsRemote(args.dir)) {
    auto remote = OpenRemote(args);
    if (!remote.ok()) return RemoteFail(io, "rm", args, remote.status());
    if (Status s = (*remote)->Erase(args.key); !s.ok()) {
      return RemoteFail(io, "rm", args, s);
    }
    return kExitOk;
  }
  auto cache = OpenStore(args.dir, Access::kWrite);
  if (!cache.ok()) return Fail(io, "rm", cache.status());
  if (Status s = (*cache)->Erase(args.key); !s.ok()) return Fail(io, "rm", s);
  return kExitOk;
}

int Ls(const Io& io, const Args& args) {
  std::vector<std::string> keys;
  if (IsRemote(args.dir)) {
    auto remote = OpenRemote(args);
    if (!remote.ok()) return RemoteFail(io, "ls", args, remote.status());
    Result<std::vector<std::string>> listed = (*remote)->List("");
    if (!listed.ok()) return RemoteFail(io, "ls", args, listed.status());
    keys = *std::move(listed);
  } else {
    auto cache = OpenStore(args.dir, Access::kRead);
    if (!cache.ok()) return Fail(io, "ls", cache.status());
    Status s = (*cache)->ForEachKey(
        [&keys](std::string_view key) { keys.emplace_back(key); });
    if (!s.ok()) return Fail(io, "ls", s);
  }
  // Neither the engine nor SCAN promises an order; a sorted listing diffs
  // and greps well.
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) io.out << EscapeKey(key) << '\n';
  io.out.flush();
  if (!io.out) return Fail(io, "ls", Status::IOError("writing stdout failed"));
  return kExitOk;
}

int Clear(const Io& io, const Args& args) {
  if (IsRemote(args.dir)) {
    auto remote = OpenRemote(args);
    if (!remote.ok()) return RemoteFail(io, "clear", args, remote.status());
    if (Status s = (*remote)->Clear(); !s.ok()) {
      return RemoteFail(io, "clear", args, s);
    }
    return kExitOk;
  }
  auto cache = OpenStore(args.dir, Access::kWrite);
  if (!cache.ok()) return Fail(io, "clear", cache.status());
  if (Status s = (*cache)->Clear(); !s.ok()) return Fail(io, "clear", s);
  return kExitOk;
}

// `stats` of Redis servers. Their counters are this process's own, so they
// describe one probe: listing the prefix's keys, which fails like any
// command when a server does not answer, and counts them when they do.
int RemoteStats(const Io& io, const Args& args) {
  auto remote = OpenRemote(args);
  if (!remote.ok()) return RemoteFail(io, "stats", args, remote.status());
  Result<std::vector<std::string>> keys = (*remote)->List("");
  if (!keys.ok()) return RemoteFail(io, "stats", args, keys.status());
  const RemoteCacheStats s = (*remote)->GetStats();
  const std::pair<std::string_view, uint64_t> fields[] = {
      {"keys", keys->size()},
      {"shards", s.shards},
      {"shards_open", s.shards_open},
      {"breaker_trips", s.breaker_trips},
      {"hits", s.hits},
      {"misses", s.misses},
      {"corrupt", s.corrupt},
      {"bytes_in", s.bytes_in},
      {"bytes_out", s.bytes_out},
      {"writes", s.writes},
      {"errors", s.errors},
      {"timeouts", s.timeouts},
      {"skipped", s.skipped},
      {"dropped_writes", s.dropped_writes},
      {"too_large", s.too_large},
      {"chunked_writes", s.chunked_writes},
      {"chunks_missing", s.chunks_missing},
  };
  if (args.json) {
    const char* separator = "{";
    for (const auto& [name, value] : fields) {
      io.out << separator << '"' << name << "\": " << value;
      separator = ", ";
    }
    io.out << "}\n";
  } else {
    // Spelt as the file store's human form spells its fields.
    std::vector<std::string> names;
    std::vector<std::pair<std::string_view, std::string>> lines;
    names.reserve(std::size(fields));
    for (const auto& [name, value] : fields) {
      std::string& human = names.emplace_back(name);
      std::replace(human.begin(), human.end(), '_', ' ');
      lines.emplace_back(human, std::to_string(value));
    }
    PrintAligned(io.out, lines);
  }
  io.out.flush();
  if (!io.out) {
    return Fail(io, "stats", Status::IOError("writing stdout failed"));
  }
  return kExitOk;
}

int Stats(const Io& io, const Args& args) {
  if (IsRemote(args.dir)) return RemoteStats(io, args);
  auto cache = OpenStore(args.dir, Access::kRead);
  if (!cache.ok()) return Fail(io, "stats", cache.status());
  Result<FileCacheStats> stats = (*cache)->GetStats();
  if (!stats.ok()) return Fail(io, "stats", stats.status());
  const FileCacheStats& s = *stats;
  if (args.json) {
    io.out << "{\"entries\": " << s.entries
           << ", \"live_bytes\": " << s.live_bytes
           << ", \"raw_value_bytes\": " << s.raw_value_bytes
           << ", \"stored_value_bytes\": " << s.stored_value_bytes
           << ", \"file_bytes\": " << s.file_bytes
           << ", \"dead_bytes\": " << s.dead_bytes
           << ", \"compression_ratio\": " << JsonNumber(s.compression_ratio())
           << ", \"evictions\": " << s.evictions
           << ", \"expired_dropped\": " << s.expired_dropped
           << ", \"corrupt_records\": " << s.corrupt_records
           << ", \"compactions\": " << s.compactions
           << ", \"generation\": " << s.generation << "}\n";
  } else {
    PrintAligned(
        io.out,
        {
            {"entries", std::to_string(s.entries)},
            {"live bytes", Bytes(s.live_bytes)},
            {"raw value bytes", Bytes(s.raw_value_bytes)},
            {"stored value bytes", Bytes(s.stored_value_bytes)},
            {"file bytes", Bytes(s.file_bytes)},
            {"dead bytes", Bytes(s.dead_bytes)},
            {"compression ratio", FormatDouble(s.compression_ratio(), 2)},
            {"evictions", std::to_string(s.evictions)},
            {"expired dropped", std::to_string(s.expired_dropped)},
            {"corrupt records", std::to_string(s.corrupt_records)},
            {"compactions", std::to_string(s.compactions)},
            {"generation", std::to_string(s.generation)},
        });
  }
  io.out.flush();
  if (!io.out) {
    return Fail(io, "stats", Status::IOError("writing stdout failed"));
  }
  return kExitOk;
}

int Verify(const Io& io, const Args& args) {
  auto cache = OpenStore(args.dir, Access::kRead);
  if (!cache.ok()) {
    Fail(io, "verify", cache.status());
    // A store too damaged to open is still a finding of corruption.
    return cache.status().IsCorruption() ? kExitCorrupt : kExitError;
  }
  Result<VerifyReport> report = (*cache)->Verify();
  if (!report.ok()) {
    Fail(io, "verify", report.status());
    return report.status().IsCorruption() ? kExitCorrupt : kExitError;
  }
  const VerifyReport& r = *report;
  PrintAligned(io.out,
               {
                   {"records checked", std::to_string(r.records_checked)},
                   {"corrupt records", std::to_string(r.corrupt_records)},
                   {"index entries", std::to_string(r.index_entries)},
                   {"bad index entries", std::to_string(r.bad_index_entries)},
                   {"unreadable bytes", Bytes(r.unreadable_bytes)},
                   {"result", r.clean() ? "clean" : "CORRUPT"},
               });
  io.out.flush();
  if (r.clean()) return kExitOk;
  Fail(io, "verify",
       Status::Corruption(
           args.dir + ": " + std::to_string(r.corrupt_records) +
           " corrupt records, " + std::to_string(r.bad_index_entries) +
           " bad index entries, " + std::to_string(r.unreadable_bytes) +
           " unreadable bytes"));
  return kExitCorrupt;
}

int Compact(const Io& io, const Args& args) {
  auto cache = OpenStore(args.dir, Access::kWrite);
  if (!cache.ok()) return Fail(io, "compact", cache.status());
  Result<FileCacheStats> before = (*cache)->GetStats();
  if (!before.ok()) return Fail(io, "compact", before.status());

  Status s;
  if (io.options.stdout_is_tty) {
    ProgressBar bar(io.err);
    s = (*cache)->Compact(
        [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); });
    bar.Finish(s.ok());
  } else {
    s = (*cache)->Compact();
  }
  if (!s.ok()) return Fail(io, "compact", s);

  Result<FileCacheStats> after = (*cache)->GetStats();
  if (!after.ok()) return Fail(io, "compact", after.status());
  const uint64_t b = before->file_bytes;
  const uint64_t a = after->file_bytes;
  const double ratio =
      b == 0 ? 1.0 : static_cast<double>(a) / static_cast<double>(b);
  PrintAligned(io.out,
               {
                   {"before", Bytes(b)},
                   {"after", Bytes(a)},
                   {"ratio", FormatDouble(ratio, 2) + " (after / before)"},
               });
  io.out.flush();
  return kExitOk;
}

int Run(int argc, const char* const* argv, const Io& io) {
  CLI::App app("Inspect and maintain a ucache file store.", "ucache");
  app.set_version_flag("--version", "ucache " + std::string(kVersion));
  // At most one, and a missing one is reported below: with a minimum of one
  // CLI11 would answer a misspelt subcommand with "a subcommand is
  // required" instead of naming the word it did not expect.
  app.require_subcommand(0, 1);
  app.footer(kFooter);

  Args args;
  auto add_dir = [&args](CLI::App* sub) {
    sub->add_option("DIR", args.dir, "The store's directory")->required();
  };
  // A subcommand that also works on Redis servers: DIR may be their URLs.
  auto add_store = [&args](CLI::App* sub) {
    sub->add_option("DIR", args.dir,
                    "The store's directory, or redis://host[:port][/db] or "
                    "redis+unix:///path.sock URLs (space-separated shards)")
        ->required();
    sub->add_option("--prefix", args.prefix,
                    "With URLs: the prefix of the keys in Redis; ls, clear "
                    "and stats see only the keys under it")
        ->default_str(args.prefix);
  };
  auto add_key = [&args](CLI::App* sub) {
    sub->add_option("KEY", args.key, "The key, as raw bytes")->required();
  };

  CLI::App* put = app.add_subcommand(
      "put", "Store stdin's bytes under KEY; creates DIR when missing");
  add_store(put);
  add_key(put);
  put->add_option("--ttl", args.ttl_seconds,
                  "Seconds until the value expires; 0 (the default) means "
                  "never")
      ->type_name("SECONDS")
      ->check(WholeSeconds())
      ->check(CLI::Range(int64_t{0}, kMaxTtlSeconds).description(""));

  CLI::App* get = app.add_subcommand(
      "get", "Write KEY's value to stdout as is; exit 1 when absent");
  add_store(get);
  add_key(get);

  CLI::App* rm = app.add_subcommand("rm", "Remove KEY (no error when absent)");
  add_store(rm);
  add_key(rm);

  CLI::App* ls = app.add_subcommand(
      "ls", "List the keys, one per line, unprintable bytes as \\xNN");
  add_store(ls);
  ls->footer(std::string(kLsFooter) + kFooter);

  CLI::App* clear = app.add_subcommand("clear", "Remove every key");
  add_store(clear);

  CLI::App* stats = app.add_subcommand(
      "stats", "Print the store's sizes, ratios and counters");
  add_store(stats);
  stats->add_flag("--json", args.json,
                  "Print one JSON object with snake_case numeric fields");

  CLI::App* verify = app.add_subcommand(
      "verify", "Check every record; exit 3 on corruption; changes nothing");
  add_dir(verify);
  verify->footer(std::string(kVerifyFooter) + kFooter);

  CLI::App* compact = app.add_subcommand(
      "compact", "Rewrite the live records into a new generation");
  add_dir(compact);
  compact->footer(std::string(kCompactFooter) + kFooter);

  // CLI11 would call a misspelt subcommand one of "the following arguments
  // [that] were not expected".
  if (argc > 1 && argv[1][0] != '-' && !IsSubcommand(app, argv[1])) {
    io.err << "ucache: unknown subcommand \"" << argv[1]
           << "\"; the subcommands are " << SubcommandNames(app) << "\n"
           << "Run with --help for more information.\n";
    return kExitError;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports --help and --version as "errors" with exit code 0 and
    // prints them to `out`; real errors go to `err`.
    if (app.exit(e, io.out, io.err) == 0) return kExitOk;
    if (const char* arg = UnknownDashArgument(app, argc, argv);
        arg != nullptr && (dynamic_cast<const CLI::RequiredError*>(&e) ||
                           dynamic_cast<const CLI::ExtrasError*>(&e))) {
      io.err << "A KEY that starts with '-' goes after `--`, e.g. `ucache "
             << argv[1] << " DIR -- " << arg << "`\n";
    }
    return kExitError;
  }

  // `clear DIR --prefix p:` would otherwise empty the whole local store.
  for (const CLI::App* sub : app.get_subcommands({})) {
    const CLI::Option* prefix = sub->get_option_no_throw("--prefix");
    if (sub->parsed() && prefix != nullptr && prefix->count() > 0 &&
        !IsRemote(args.dir)) {
      return Fail(io, sub->get_name(),
                  Status::InvalidArgument(
                      "--prefix applies to Redis URLs, not to a directory"));
    }
  }
  if ((verify->parsed() || compact->parsed()) && IsRemote(args.dir)) {
    return Fail(io, verify->parsed() ? "verify" : "compact",
                Status::InvalidArgument(
                    "works on a store directory, not on Redis servers"));
  }
  if (!io.options.working_dir.empty() && !IsRemote(args.dir) &&
      !args.dir.empty() && args.dir.front() != '/') {
    args.dir = io.options.working_dir + "/" + args.dir;
  }

  if (put->parsed()) return Put(io, args);
  if (get->parsed()) return Get(io, args);
  if (rm->parsed()) return Rm(io, args);
  if (ls->parsed()) return Ls(io, args);
  if (clear->parsed()) return Clear(io, args);
  if (stats->parsed()) return Stats(io, args);
  if (verify->parsed()) return Verify(io, args);
  if (compact->parsed()) return Compact(io, args);
  io.err << "A subcommand is required\n"
         << "Run with --help for more information.\n";
  return kExitError;
}

}  // namespace

std::string EscapeKey(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(key.size());
  for (const char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '\\') {
      out += "\\\\";
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB",
                                           "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  // 1023.96 would print as "1024.0"; move up a unit before rounding does.
  // 2^64 bytes is 16 EiB, so the last unit always suffices.
  while (value >= 1023.95 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return FormatDouble(value, 1) + " " + kUnits[unit];
}

int RunCli(int argc, const char* const* argv, std::istream& in,
           std::ostream& out, std::ostream& err, const CliOptions& options) {
  const Io io{in, out, err, options};
  // Nothing may escape to main: CLI11 and the standard library throw (bad
  // alloc on a huge value, for one), and an uncaught exception would end
  // the process with SIGABRT instead of a documented exit code.
  try {
    return Run(argc, argv, io);
  } catch (const std::exception& e) {
    return Fail(io, "unexpected error", Status::IOError(e.what()));
  } catch (...) {
    return Fail(io, "unexpected error", Status::IOError("unknown exception"));
  }
}

}  // namespace ucache::cli
