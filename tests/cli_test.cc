// Tests of the `ucache` command-line tool, run in-process through RunCli
// against real stores: the exit codes, the bytes on stdout, the messages on
// stderr, and that read-only commands leave directories untouched.

#include "tools/cli.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "tests/redis_server.h"
#include "tests/testutil.h"
#include "ucache/file_cache.h"

namespace ucache::cli {
namespace {

namespace fs = std::filesystem;

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

// Runs `ucache args...` with `input` on stdin.
CliResult Ucache(const std::vector<std::string>& args,
                 std::string_view input = {}, const CliOptions& options = {}) {
  std::vector<const char*> argv = {"ucache"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::istringstream in{std::string(input)};
  std::ostringstream out;
  std::ostringstream err;
  CliResult result;
  result.code =
      RunCli(static_cast<int>(argv.size()), argv.data(), in, out, err, options);
  result.out = out.str();
  result.err = err.str();
  return result;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void WriteFile(const fs::path& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(f.good()) << path;
}

// Every entry under `dir` with its type, permissions, size and contents: two
// equal snapshots mean nothing was created, removed or changed.
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> snapshot;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const fs::file_status st = entry.symlink_status();
    std::string desc = std::to_string(static_cast<int>(st.type())) + " " +
                       std::to_string(static_cast<int>(st.permissions()));
    if (fs::is_regular_file(st)) desc += " " + ReadFile(entry.path());
    snapshot[fs::relative(entry.path(), dir).string()] = desc;
  }
  return snapshot;
}

// Expects the one-line failure format "ucache: <what>: <status>".
void ExpectFailureMessage(const CliResult& r) {
  EXPECT_EQ(r.err.rfind("ucache: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

// A strict parser for the flat JSON objects `stats --json` prints: string
// keys, number values. Returns nullopt on any syntax error.
class FlatJson {
 public:
  static std::optional<std::map<std::string, double>> Parse(
      std::string_view text) {
    FlatJson p(text);
    std::map<std::string, double> fields;
    p.SkipSpace();
    if (!p.Eat('{')) return std::nullopt;
    p.SkipSpace();
    if (!p.Eat('}')) {
      do {
        p.SkipSpace();
        std::optional<std::string> key = p.String();
        p.SkipSpace();
        if (!key || !p.Eat(':')) return std::nullopt;
        p.SkipSpace();
        std::optional<double> value = p.Number();
        if (!value || fields.count(*key)) return std::nullopt;
        fields[*key] = *value;
        p.SkipSpace();
      } while (p.Eat(','));
      if (!p.Eat('}')) return std::nullopt;
    }
    p.SkipSpace();
    if (p.pos_ != p.text_.size()) return std::nullopt;
    return fields;
  }

 private:
  explicit FlatJson(std::string_view text) : text_(text) {}

  bool Eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Digits() {
    const size_t start = pos_;
    while (pos_ < text_.size() &&
           std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
    return pos_ > start;
  }
  // Plain keys only: the stats object needs no escapes.
  std::optional<std::string> String() {
    if (!Eat('"')) return std::nullopt;
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      if (text_[pos_] == '\\' ||
          static_cast<unsigned char>(text_[pos_]) < 0x20) {
        return std::nullopt;
      }
      ++pos_;
    }
    if (!Eat('"')) return std::nullopt;
    return std::string(text_.substr(start, pos_ - start - 1));
  }
  // JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::optional<double> Number() {
    const size_t start = pos_;
    Eat('-');
    if (Eat('0')) {
      // A leading zero stands alone.
    } else if (pos_ < text_.size() && text_[pos_] >= '1' &&
               text_[pos_] <= '9') {
      Digits();
    } else {
      return std::nullopt;
    }
    if (Eat('.') && !Digits()) return std::nullopt;
    if (Eat('e') || Eat('E')) {
      if (!Eat('+')) Eat('-');
      if (!Digits()) return std::nullopt;
    }
    return std::stod(std::string(text_.substr(start, pos_ - start)));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

TEST(FlatJsonTest, AcceptsAndRejects) {
  EXPECT_TRUE(FlatJson::Parse(R"({"a": 1, "b": 2.5e3})"));
  EXPECT_TRUE(FlatJson::Parse("{}\n"));
  EXPECT_FALSE(FlatJson::Parse(R"({"a": 1,})"));
  EXPECT_FALSE(FlatJson::Parse(R"({"a": nan})"));
  EXPECT_FALSE(FlatJson::Parse(R"({"a": 01})"));
  EXPECT_FALSE(FlatJson::Parse(R"({"a": 1} x)"));
}

TEST(EscapeKeyTest, EscapesUnprintableBytesAndBackslash) {
  EXPECT_EQ(EscapeKey("plain key~"), "plain key~");
  EXPECT_EQ(EscapeKey(std::string("a\nb\t\x01\x7f\xff", 7)),
            "a\\x0ab\\x09\\x01\\x7f\\xff");
  EXPECT_EQ(EscapeKey("back\\slash"), "back\\\\slash");
  // An escaped-looking key stays distinguishable from the escaped byte.
  EXPECT_NE(EscapeKey("\\x0a"), EscapeKey("\n"));
}

TEST(HumanBytesTest, BinaryUnits) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(1024 * 1024 - 1), "1.0 MiB");
  EXPECT_EQ(HumanBytes(uint64_t{3} << 30), "3.0 GiB");
  EXPECT_EQ(HumanBytes(UINT64_MAX), "16.0 EiB");
}

class CliTest : public ::testing::Test {
 protected:
  // A store directory that does not exist yet; `put` creates it.
  std::string Store() const { return tmp_.Sub("store"); }

  void Put(const std::string& key, std::string_view value) {
    CliResult r = Ucache({"put", Store(), key}, value);
    ASSERT_EQ(r.code, kExitOk) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, "");
  }

  TempDir tmp_;
};

TEST_F(CliTest, PutGetRoundTripsBinaryBytes) {
  std::string value;
  for (int i = 0; i < 256; ++i) value += static_cast<char>(i);
  value += value;  // every byte value, NUL included, twice
  const char kKey[] = "k\x01\xff\n\"\\ space";
  const std::string key(kKey, sizeof(kKey) - 1);  // 12 bytes, no NUL
  Put(key, value);

  CliResult r = Ucache({"get", Store(), key});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, value);  // exact: no newline added
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, PutGetRoundTripsOneMebibyte) {
  std::mt19937_64 rng(42);
  // Half random, half repetitive, so both raw and compressed paths may run.
  std::string value = RandomBytes(rng, 512 * 1024);
  value += std::string(512 * 1024, 'z');
  ASSERT_EQ(value.size(), size_t{1} << 20);
  Put("big", value);

  CliResult r = Ucache({"get", Store(), "big"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_TRUE(r.out == value) << "got " << r.out.size() << " bytes";
}

TEST_F(CliTest, PutEmptyValueAndOverwrite) {
  Put("k", "first");
  Put("k", "");
  CliResult r = Ucache({"get", Store(), "k"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, KeyStartingWithDashAfterDoubleDash) {
  CliResult r = Ucache({"put", Store(), "--", "-k"}, "dash");
  ASSERT_EQ(r.code, kExitOk) << r.err;
  r = Ucache({"get", Store(), "--", "-k"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "dash");
  // Without `--` it is an unknown option: a usage error.
  r = Ucache({"get", Store(), "-k"});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_NE(r.err, "");
}

TEST_F(CliTest, GetMissExitsOneSilently) {
  Put("present", "v");
  CliResult r = Ucache({"get", Store(), "absent"});
  EXPECT_EQ(r.code, kExitMiss);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, GetOnMissingDirExitsTwoAndCreatesNothing) {
  const fs::path dir = tmp_.Sub("never-made");
  const auto before = Snapshot(tmp_.path());
  CliResult r = Ucache({"get", dir.string(), "k"});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.out, "");
  ExpectFailureMessage(r);
  EXPECT_FALSE(fs::exists(dir));
  EXPECT_EQ(Snapshot(tmp_.path()), before);
}

TEST_F(CliTest, CommandsOnMissingDirExitTwoAndCreateNothing) {
  const std::string dir = tmp_.Sub("absent");
  for (std::vector<std::string> args :
       {std::vector<std::string>{"rm", dir, "k"},
        {"ls", dir},
        {"clear", dir},
        {"stats", dir},
        {"stats", "--json", dir},
        {"verify", dir},
        {"compact", dir}}) {
    CliResult r = Ucache(args);
    EXPECT_EQ(r.code, kExitError) << args[0];
    ExpectFailureMessage(r);
    EXPECT_FALSE(fs::exists(dir)) << args[0] << " created " << dir;
  }
}

TEST_F(CliTest, EmptyKeyIsAnError) {
  for (const char* cmd : {"put", "get", "rm"}) {
    CliResult r = Ucache({cmd, Store(), ""}, "v");
    EXPECT_EQ(r.code, kExitError) << cmd;
    ExpectFailureMessage(r);
    EXPECT_NE(r.err.find("InvalidArgument"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(Store()));
}

TEST_F(CliTest, OversizedKeyIsAnError) {
  CliResult r = Ucache({"put", Store(), std::string(65537, 'k')}, "v");
  EXPECT_EQ(r.code, kExitError);
  ExpectFailureMessage(r);
}

TEST_F(CliTest, PutIntoRegularFileExitsTwo) {
  const fs::path file = tmp_.Sub("a-file");
  WriteFile(file, "not a directory");
  CliResult r = Ucache({"put", file.string(), "k"}, "v");
  EXPECT_EQ(r.code, kExitError);
  ExpectFailureMessage(r);
  EXPECT_EQ(ReadFile(file), "not a directory");
}

TEST_F(CliTest, VerifyOnNonStoreLeavesDirectoryByteIdentical) {
  const fs::path dir = tmp_.Sub("not-a-store");
  fs::create_directory(dir);
  std::mt19937_64 rng(7);
  WriteFile(dir / "random.bin", RandomBytes(rng, 4096));
  fs::create_directory(dir / "sub");
  WriteFile(dir / "sub" / "note.txt", "hello");
  const auto before = Snapshot(dir);
  const auto dir_mtime = fs::last_write_time(dir);

  CliResult r = Ucache({"verify", dir.string()});
  EXPECT_EQ(r.code, kExitError);
  ExpectFailureMessage(r);
  EXPECT_NE(r.err.find("NotAStore"), std::string::npos) << r.err;
  EXPECT_EQ(Snapshot(dir), before);
  EXPECT_EQ(fs::last_write_time(dir), dir_mtime);
}

TEST_F(CliTest, CommandsOnNonStoreLeaveItAlone) {
  const fs::path dir = tmp_.Sub("other");
  fs::create_directory(dir);
  WriteFile(dir / "data", "precious");
  const auto before = Snapshot(dir);
  for (std::vector<std::string> args :
       {std::vector<std::string>{"get", dir.string(), "k"},
        {"ls", dir.string()},
        {"stats", dir.string()},
        {"rm", dir.string(), "k"},
        {"clear", dir.string()},
        {"compact", dir.string()}}) {
    CliResult r = Ucache(args);
    EXPECT_EQ(r.code, kExitError) << args[0];
    ExpectFailureMessage(r);
  }
  EXPECT_EQ(Snapshot(dir), before);
}

TEST_F(CliTest, VerifyCleanStoreExitsZero) {
  Put("a", "alpha");
  Put("b", std::string(10000, 'b'));
  CliResult r = Ucache({"verify", Store()});
  EXPECT_EQ(r.code, kExitOk) << r.err << r.out;
  EXPECT_EQ(r.err, "");
  EXPECT_NE(r.out.find("records checked:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("clean"), std::string::npos) << r.out;
}

TEST_F(CliTest, VerifyAfterFlippedBytesExitsThree) {
  std::mt19937_64 rng(3);
  // Incompressible values, so the log holds their bytes as written and a
  // flip inside them must fail a record checksum.
  for (int i = 0; i < 64; ++i) {
    Put("key" + std::to_string(i), RandomBytes(rng, 4096));
  }

  fs::path biggest;
  uintmax_t biggest_size = 0;
  for (const auto& entry : fs::recursive_directory_iterator(Store())) {
    if (entry.is_regular_file() && entry.file_size() > biggest_size) {
      biggest = entry.path();
      biggest_size = entry.file_size();
    }
  }
  ASSERT_FALSE(biggest.empty());
  std::string bytes = ReadFile(biggest);
  // The file may be preallocated past its last record, and bytes nobody
  // reads prove nothing: flip in the second half of the written part.
  const size_t used = bytes.find_last_not_of('\0') + 1;
  ASSERT_GT(used, 64u * 4096) << biggest;
  for (size_t i = used / 2; i < used; i += 997) bytes[i] ^= 0x5a;
  WriteFile(biggest, bytes);

  CliResult r = Ucache({"verify", Store()});
  EXPECT_EQ(r.code, kExitCorrupt) << r.out << r.err;
  EXPECT_NE(r.err.find("Corruption"), std::string::npos) << r.err;
  // A store too damaged to open is reported on stderr alone; otherwise the
  // counts are printed.
  if (r.out.find("corrupt records:") != std::string::npos) {
    EXPECT_NE(r.out.find("CORRUPT"), std::string::npos) << r.out;
  }
  // Verify changes nothing, so the finding is stable.
  EXPECT_EQ(Ucache({"verify", Store()}).code, kExitCorrupt);
  EXPECT_EQ(ReadFile(biggest), bytes);
}

TEST_F(CliTest, RmThenGetMisses) {
  Put("gone", "v");
  Put("kept", "w");
  CliResult r = Ucache({"rm", Store(), "gone"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Ucache({"get", Store(), "gone"}).code, kExitMiss);
  EXPECT_EQ(Ucache({"get", Store(), "kept"}).out, "w");
  // Removing an absent key is not an error.
  EXPECT_EQ(Ucache({"rm", Store(), "never"}).code, kExitOk);
}

TEST_F(CliTest, LsListsKeysSortedAndEscaped) {
  Put("b", "1");
  Put("a", "2");
  Put(std::string("k\nx\x80", 4), "3");
  Put("back\\slash", "4");
  CliResult r = Ucache({"ls", Store()});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "a\nb\nback\\\\slash\nk\\x0ax\\x80\n");
  EXPECT_EQ(r.err, "");
}

// Every file below `root` and below the working directory, as paths
// relative to them, so that a test sees any file a command left anywhere.
std::vector<std::string> FilesBelow(const fs::path& root) {
  std::vector<std::string> files;
  for (const fs::path& base : {root, fs::current_path()}) {
    for (const auto& e : fs::recursive_directory_iterator(base)) {
      if (!e.is_directory()) {
        files.push_back(fs::relative(e.path(), base).string());
      }
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Keys are bytes, never paths: traversal, separators, NUL-ish and control
// bytes name no file. The store sits two levels down in a jail so that
// "../../x", were it joined to the store's path, would land in the jail.
TEST_F(CliTest, KeysNeverNameFilesOutsideTheStore) {
  const fs::path jail = tmp_.Sub("jail");
  const std::string store = (jail / "a" / "b" / "store").string();
  fs::create_directories(jail / "a" / "b");
  const std::vector<std::string> keys = {
      "../../x",
      "../../../../../../../../tmp/ucache-escape",
      "/etc/ucache-escape",
      "a/b/c",
      "..",
      ".",
      "/",
      "store/../../../x",
      "index",
      "lock",
      "log.0000000000000001",
      "x\\0y",  // backslash zero: what a shell user might type for NUL
      "%00",
      std::string("\x01\x1b[31m\x7f\r\t", 9),
      "\xff\xfe/..",
      std::string(4096, '/'),
  };
  const std::vector<std::string> before = FilesBelow(jail);
  for (size_t i = 0; i < keys.size(); ++i) {
    SCOPED_TRACE("key #" + std::to_string(i) + ": " + EscapeKey(keys[i]));
    const std::string value = "value " + std::to_string(i);
    CliResult r = Ucache({"put", store, "--", keys[i]}, value);
    ASSERT_EQ(r.code, kExitOk) << r.err;
    r = Ucache({"get", store, "--", keys[i]});
    EXPECT_EQ(r.code, kExitOk) << r.err;
    EXPECT_EQ(r.out, value);
  }
  CliResult r = Ucache({"ls", store});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'),
            static_cast<long>(keys.size()));

  // The store's own three files, and nothing else anywhere.
  std::vector<std::string> want = before;
  for (const char* name : {"a/b/store/index", "a/b/store/lock",
                           "a/b/store/log.0000000000000001"}) {
    want.push_back(name);
  }
  std::sort(want.begin(), want.end());
  EXPECT_EQ(FilesBelow(jail), want);
  EXPECT_FALSE(fs::exists("/tmp/ucache-escape"));
  EXPECT_FALSE(fs::exists("/etc/ucache-escape"));

  for (const std::string& key : keys) {
    EXPECT_EQ(Ucache({"rm", store, "--", key}).code, kExitOk);
    EXPECT_EQ(Ucache({"get", store, "--", key}).code, kExitMiss);
  }
  EXPECT_EQ(FilesBelow(jail), want);
}

TEST_F(CliTest, LsOfEmptyStorePrintsNothing) {
  Put("k", "v");
  ASSERT_EQ(Ucache({"rm", Store(), "k"}).code, kExitOk);
  CliResult r = Ucache({"ls", Store()});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(CliTest, ClearEmptiesTheStore) {
  Put("a", "1");
  Put("b", "2");
  Put("c", "3");
  CliResult r = Ucache({"clear", Store()});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Ucache({"ls", Store()}).out, "");
  EXPECT_EQ(Ucache({"get", Store(), "a"}).code, kExitMiss);
  CliResult stats = Ucache({"stats", "--json", Store()});
  EXPECT_NE(stats.out.find("\"entries\": 0"), std::string::npos) << stats.out;
  // The store still works after a clear.
  Put("d", "4");
  EXPECT_EQ(Ucache({"get", Store(), "d"}).out, "4");
}

TEST_F(CliTest, StatsJsonIsOneValidObjectWithEveryField) {
  Put("a", std::string(1000, 'a'));
  Put("b", "bee");
  CliResult r = Ucache({"stats", Store(), "--json"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  std::optional<std::map<std::string, double>> fields = FlatJson::Parse(r.out);
  ASSERT_TRUE(fields) << "not a flat JSON object: " << r.out;
  for (const char* key :
       {"entries", "live_bytes", "raw_value_bytes", "stored_value_bytes",
        "file_bytes", "dead_bytes", "compression_ratio", "evictions",
        "expired_dropped", "corrupt_records", "compactions", "generation"}) {
    EXPECT_EQ(fields->count(key), 1u) << "missing " << key << " in " << r.out;
  }
  EXPECT_EQ(fields->size(), 12u) << r.out;
  EXPECT_NE(r.out.find("\"entries\": 2"), std::string::npos) << r.out;
  EXPECT_EQ((*fields)["entries"], 2);
  EXPECT_GE((*fields)["raw_value_bytes"], 1003);
  EXPECT_GT((*fields)["file_bytes"], 0);
  EXPECT_GT((*fields)["compression_ratio"], 0);
}

TEST_F(CliTest, StatsHumanFormIsAligned) {
  Put("a", std::string(5000, 'a'));
  CliResult r = Ucache({"stats", Store()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  std::optional<size_t> value_column;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    const size_t colon = line.find(':');
    ASSERT_NE(colon, std::string::npos) << line;
    const size_t column = line.find_first_not_of(' ', colon + 1);
    ASSERT_NE(column, std::string::npos) << line;
    if (!value_column) value_column = column;
    EXPECT_EQ(column, *value_column) << "misaligned: " << line;
  }
  EXPECT_EQ(count, 12);
  EXPECT_NE(r.out.find("entries:"), std::string::npos);
  EXPECT_NE(r.out.find("compression ratio:"), std::string::npos);
  EXPECT_NE(r.out.find("corrupt records:"), std::string::npos);
  // Sizes come with a human-readable form.
  EXPECT_NE(r.out.find("raw value bytes:"), std::string::npos);
  EXPECT_NE(r.out.find(" (4.9 KiB)"), std::string::npos) << r.out;
}

TEST_F(CliTest, TtlFlagAcceptedAndBadValuesRejected) {
  CliResult r = Ucache({"put", Store(), "k", "--ttl", "3600"}, "v");
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(Ucache({"get", Store(), "k"}).out, "v");
  r = Ucache({"put", "--ttl=0", Store(), "k0"}, "v");
  EXPECT_EQ(r.code, kExitOk) << r.err;

  const std::string other = tmp_.Sub("never");
  for (const char* bad : {"-5", "abc", "1.5x", "", "99999999999999999999"}) {
    r = Ucache({"put", other, "k", "--ttl", bad}, "v");
    EXPECT_EQ(r.code, kExitError) << "--ttl " << bad;
    EXPECT_NE(r.err, "") << "--ttl " << bad;
    EXPECT_FALSE(fs::exists(other)) << "--ttl " << bad;
  }
}

TEST_F(CliTest, TtlThatIsNoWholeNumberSaysSo) {
  for (const char* bad : {"abc", "1.5", "-5", "", "1e3"}) {
    CliResult r = Ucache({"put", Store(), "k", "--ttl", bad}, "v");
    EXPECT_EQ(r.code, kExitError) << "--ttl " << bad;
    EXPECT_NE(r.err.find("--ttl: \"" + std::string(bad) +
                         "\" is not a whole number of seconds"),
              std::string::npos)
        << r.err;
  }
  // A whole number out of range still says what the range is.
  CliResult r = Ucache({"put", Store(), "k", "--ttl", "99999999999"}, "v");
  EXPECT_EQ(r.code, kExitError);
  EXPECT_NE(r.err.find("not in range 0 to 3153600000"), std::string::npos)
      << r.err;
}

TEST_F(CliTest, UnknownSubcommandIsNamedWithTheSubcommands) {
  CliResult r = Ucache({"lst", Store()});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "ucache: unknown subcommand \"lst\"; the subcommands are put, "
            "get, rm, ls, clear, stats, verify, compact\n"
            "Run with --help for more information.\n");
}

TEST_F(CliTest, KeyStartingWithDashSuggestsDoubleDash) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"put", Store(), "-k"},
                                             {"get", Store(), "-k"},
                                             {"rm", Store(), "k", "-x"}}) {
    CliResult r = Ucache(args, "v");
    EXPECT_EQ(r.code, kExitError) << ::testing::PrintToString(args);
    const std::string hint = "A KEY that starts with '-' goes after `--`, " +
                             ("e.g. `ucache " + args[0] + " DIR -- ") +
                             args.back() + "`\n";
    EXPECT_NE(r.err.find(hint), std::string::npos) << r.err;
  }
  // Known options and values that are not keys get no such hint.
  CliResult r = Ucache({"put", Store(), "--ttl", "-5"}, "v");
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.err.find("goes after `--`"), std::string::npos) << r.err;
  r = Ucache({"stats", "--json"});
  EXPECT_EQ(r.code, kExitError);
  EXPECT_EQ(r.err.find("goes after `--`"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(Store()));
}

TEST_F(CliTest, RelativeDirIsTakenFromTheWorkingDir) {
  CliOptions from_tmp;
  from_tmp.working_dir = tmp_.path();
  CliResult r = Ucache({"put", "store", "k"}, "v", from_tmp);
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_TRUE(IsStore(Store()));
  EXPECT_FALSE(fs::exists("store"));  // not in the current directory
  r = Ucache({"ls", "store"}, {}, from_tmp);
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "k\n");
  // An absolute DIR is taken as it is.
  CliOptions elsewhere;
  elsewhere.working_dir = "/nonexistent";
  EXPECT_EQ(Ucache({"get", Store(), "k"}, {}, elsewhere).out, "v");
}

TEST_F(CliTest, CompactPrintsBeforeAndAfter) {
  std::mt19937_64 rng(11);
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 16; ++i) {
      Put("k" + std::to_string(i), RandomBytes(rng, 2048));
    }
  }
  CliResult r = Ucache({"compact", Store()});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_NE(r.out.find("before:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("after:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ratio:"), std::string::npos) << r.out;
  // stdout is not a terminal here: no progress bar.
  EXPECT_EQ(r.err, "");
  // Compaction keeps every live value.
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(Ucache({"get", Store(), "k" + std::to_string(i)}).code, kExitOk);
  }
  EXPECT_EQ(Ucache({"verify", Store()}).code, kExitOk);
}

TEST_F(CliTest, CompactDrawsProgressBarOnTerminal) {
  std::mt19937_64 rng(12);
  for (int i = 0; i < 32; ++i) {
    Put("k" + std::to_string(i), RandomBytes(rng, 4096));
  }
  CliOptions terminal;
  terminal.stdout_is_tty = true;
  CliResult r = Ucache({"compact", Store()}, {}, terminal);
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_NE(r.out.find("before:"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("ucache:"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.rfind("\r[", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("] 100.0% "), std::string::npos) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.back(), '\n');
}

TEST_F(CliTest, HelpAndVersion) {
  CliResult r = Ucache({"--version"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_NE(r.out.find("ucache " + std::string(kVersion)), std::string::npos);

  r = Ucache({"--help"});
  EXPECT_EQ(r.code, kExitOk);
  for (const char* cmd :
       {"put", "get", "rm", "ls", "clear", "stats", "verify", "compact"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
    CliResult sub = Ucache({cmd, "--help"});
    EXPECT_EQ(sub.code, kExitOk) << cmd;
    EXPECT_NE(sub.out.find("Usage: ucache " + std::string(cmd)),
              std::string::npos)
        << sub.out;
  }
  EXPECT_NE(Ucache({"ls", "--help"}).out.find("\\xNN"), std::string::npos);
  EXPECT_NE(Ucache({"put", "--help"}).out.find("--ttl"), std::string::npos);
  EXPECT_NE(Ucache({"stats", "--help"}).out.find("--json"), std::string::npos);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate"},
      {"frobnicate", Store()},
      {"get", Store()},
      {"put"},
      {"get", Store(), "k", "extra"},
      {"ls", Store(), "--bogus"},
      {"verify"},
  };
  for (const auto& args : cases) {
    CliResult r = Ucache(args);
    EXPECT_EQ(r.code, kExitError) << ::testing::PrintToString(args);
    EXPECT_NE(r.err, "") << ::testing::PrintToString(args);
    EXPECT_EQ(r.out, "") << ::testing::PrintToString(args);
  }
  EXPECT_NE(Ucache({"frobnicate"}).err.find("frobnicate"), std::string::npos);
  EXPECT_FALSE(fs::exists(Store()));
}

// The remote commands against a real redis-server: the same bytes back,
// and only the keys under --prefix seen or removed.
TEST(CliRemoteTest, CommandsWorkOnTheKeysUnderThePrefix) {
  testing::RedisServer server;
  ASSERT_TRUE(server.ok());
  server.Command({"SET", "other:x", "not ours"});
  const std::string url = server.unix_url();
  const std::string value("a\0b\xff!", 5);
  for (const char* key : {"k2", "k1"}) {
    CliResult r = Ucache({"put", url, key, "--prefix", "t:"}, value);
    ASSERT_EQ(r.code, kExitOk) << r.err;
  }
  CliResult r = Ucache({"get", url, "k1", "--prefix", "t:"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, value);
  // Another prefix is another cache.
  EXPECT_EQ(Ucache({"get", url, "k1", "--prefix", "u:"}).code, kExitMiss);

  r = Ucache({"ls", url, "--prefix", "t:"});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.out, "k1\nk2\n");

  ASSERT_EQ(Ucache({"rm", url, "k1", "--prefix", "t:"}).code, kExitOk);
  r = Ucache({"get", url, "k1", "--prefix", "t:"});
  EXPECT_EQ(r.code, kExitMiss);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Ucache({"ls", url, "--prefix", "t:"}).out, "k2\n");

  ASSERT_EQ(Ucache({"clear", url, "--prefix", "t:"}).code, kExitOk);
  EXPECT_EQ(Ucache({"ls", url, "--prefix", "t:"}).out, "");
  EXPECT_EQ(server.Command({"GET", "other:x"}), "not ours");
  EXPECT_EQ(server.Command({"DBSIZE"}), "1");
}

TEST(CliRemoteTest, StatsCountsTheKeysAndShowsTheBreaker) {
  testing::RedisServer server;
  ASSERT_TRUE(server.ok());
  const std::string url = server.unix_url();
  ASSERT_EQ(Ucache({"put", url, "k"}, "v").code, kExitOk);
  CliResult r = Ucache({"stats", "--json", url});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  std::optional<std::map<std::string, double>> fields = FlatJson::Parse(r.out);
  ASSERT_TRUE(fields.has_value()) << r.out;
  for (const char* name :
       {"keys", "shards", "shards_open", "breaker_trips", "hits", "misses",
        "errors", "timeouts", "skipped", "dropped_writes"}) {
    EXPECT_EQ(fields->count(name), 1u) << name << " in " << r.out;
  }
  EXPECT_EQ((*fields)["keys"], 1);
  EXPECT_EQ((*fields)["shards"], 1);
  EXPECT_EQ((*fields)["shards_open"], 0);

  r = Ucache({"stats", url});
  EXPECT_EQ(r.code, kExitOk) << r.err;
  EXPECT_NE(r.out.find("shards open:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("breaker trips:"), std::string::npos) << r.out;
}

// Every remote command against a server that is gone, and one that accepts
// connections but never replies: exit 2, one line naming the URL, within
// about the operation timeout (1 s) rather than hanging.
TEST(CliRemoteTest, UnreachableServerExitsTwoNamingTheUrl) {
  testing::RedisServer paused;
  ASSERT_TRUE(paused.ok());
  paused.Pause();
  TempDir tmp;
  for (const std::string& url :
       {"redis+unix://" + tmp.Sub("nothing.sock"), paused.unix_url()}) {
    const std::vector<std::vector<std::string>> commands = {
        {"get", url, "k"}, {"put", url, "k"}, {"rm", url, "k"},
        {"ls", url},       {"stats", url},    {"clear", url},
    };
    for (const auto& args : commands) {
      const auto start = std::chrono::steady_clock::now();
      CliResult r = Ucache(args, "v");
      const auto took = std::chrono::steady_clock::now() - start;
      EXPECT_EQ(r.code, kExitError) << ::testing::PrintToString(args);
      ExpectFailureMessage(r);
      EXPECT_NE(r.err.find("ucache: " + args[0] + ": " + url + ": "),
                std::string::npos)
          << r.err;
      EXPECT_EQ(r.out, "");
      EXPECT_LT(took, std::chrono::seconds(3)) << r.err;
    }
  }
  paused.Resume();
}

TEST_F(CliTest, PrefixOnADirectoryIsRefused) {
  Put("k", "v");
  CliResult r = Ucache({"clear", Store(), "--prefix", "p:"});
  EXPECT_EQ(r.code, kExitError);
  ExpectFailureMessage(r);
  EXPECT_EQ(Ucache({"ls", Store()}).out, "k\n");
}

TEST(CliRemoteTest, VerifyAndCompactRefuseUrls) {
  for (const char* cmd : {"verify", "compact"}) {
    CliResult r = Ucache({cmd, "redis://127.0.0.1:1"});
    EXPECT_EQ(r.code, kExitError) << cmd;
    ExpectFailureMessage(r);
    EXPECT_NE(r.err.find("not on Redis servers"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace ucache::cli
