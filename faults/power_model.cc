#include "faults/power_model.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>
#include <utility>

namespace faultline::faults::power {
namespace {

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "." ? name : dir + "/" + name;
}

bool ReadWhole(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  *out = std::move(s).str();
  return true;
}

void ScanDir(const std::string& root, const std::string& rel, Tree* tree) {
  Listing& listing = tree->dirs[rel];
  const std::string path = rel == "." ? root : root + "/" + rel;
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return;
  std::vector<std::pair<std::string, Entry>> subdirs;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      listing[name] = {static_cast<uint64_t>(st.st_ino), 'd'};
      subdirs.emplace_back(name, listing[name]);
    } else if (S_ISREG(st.st_mode)) {
      listing[name] = {static_cast<uint64_t>(st.st_ino), 'f'};
      std::string content;
      if (ReadWhole(path + "/" + name, &content)) tree->content[st.st_ino] = std::move(content);
    }
  }
  closedir(d);
  for (const auto& [name, entry] : subdirs) ScanDir(root, Join(rel, name), tree);
}

// Splits off the next tab- or newline-terminated field of `line` at `pos`.
std::string Field(const std::string& line, size_t* pos) {
  size_t end = line.find('\t', *pos);
  if (end == std::string::npos) end = line.size();
  std::string f = line.substr(*pos, end - *pos);
  *pos = end < line.size() ? end + 1 : end;
  return f;
}

uint64_t Number(const std::string& s, bool* ok) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) {
    *ok = false;
    return 0;
  }
  return std::stoull(s);
}

enum class Parse { kOk, kIncomplete, kDamaged };

// One record of `text` at `*pos`; advances past it.
Parse ParseRecord(const std::string& text, size_t* pos, Record* r) {
  const size_t eol = text.find('\n', *pos);
  if (eol == std::string::npos) return Parse::kIncomplete;
  const std::string line = text.substr(*pos, eol - *pos);
  size_t p = 0;
  const std::string kind = Field(line, &p);
  if (kind.size() != 1 || std::string("FCSNDLU").find(kind[0]) == std::string::npos) {
    return Parse::kDamaged;
  }
  bool ok = true;
  r->kind = kind[0];
  r->seq = Number(Field(line, &p), &ok);
  r->pid = static_cast<int>(Number(Field(line, &p), &ok));
  size_t next = eol + 1;
  if (r->kind == 'F' || r->kind == 'C') {
    r->ino = Number(Field(line, &p), &ok);
    const std::string len = Field(line, &p);
    if (len == "-1") {
      r->too_big = true;
    } else {
      const uint64_t n = Number(len, &ok);
      if (!ok) return Parse::kDamaged;
      if (next + n > text.size()) return Parse::kIncomplete;
      r->data = text.substr(next, n);
      next += n;
    }
  } else if (r->kind == 'S') {
    r->dir = Field(line, &p);
    const uint64_t n = Number(Field(line, &p), &ok);
    for (uint64_t i = 0; ok && i < n; ++i) {
      const size_t end = text.find('\n', next);
      if (end == std::string::npos) return Parse::kIncomplete;
      const std::string entry = text.substr(next, end - next);
      size_t q = 0;
      const uint64_t ino = Number(Field(entry, &q), &ok);
      const std::string type = Field(entry, &q);
      const std::string name = entry.substr(std::min(q, entry.size()));
      if (type.size() != 1 || name.empty()) ok = false;
      if (ok) r->entries[name] = {ino, type[0]};
      next = end + 1;
    }
  } else {
    r->ino = Number(Field(line, &p), &ok);
    const std::string type = Field(line, &p);
    r->dir = Field(line, &p);
    r->name = line.substr(std::min(p, line.size()));
    if (type.size() != 1 || r->dir.empty() || r->name.empty()) ok = false;
    if (ok) r->type = type[0];
  }
  if (!ok) return Parse::kDamaged;
  *pos = next;
  return Parse::kOk;
}

// What is known of one inode from the records.
struct InodeHistory {
  uint64_t created = 0;  // seq of its last N or D record (0: none)
  bool synced = false;   // an F record after `created`
  bool too_big = false;
  std::string durable;  // the last F's content
  bool has_preimage = false;
  std::string preimage;  // the last C's content after `created`
  uint64_t first_seen = 0;
};

uint64_t SaturatingProduct(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

}  // namespace

Tree Scan(const std::string& root) {
  Tree tree;
  ScanDir(root, ".", &tree);
  return tree;
}

std::vector<Record> ReadJournals(const std::string& dir, std::map<std::string, size_t>* offsets,
                                 bool* damaged) {
  std::vector<Record> records;
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".jnl") names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string text;
    if (!ReadWhole(dir + "/" + name, &text)) continue;
    size_t& pos = (*offsets)[name];
    while (pos < text.size()) {
      Record r;
      const Parse p = ParseRecord(text, &pos, &r);
      if (p == Parse::kIncomplete) break;
      if (p == Parse::kDamaged) {
        *damaged = true;
        pos = text.size();
        break;
      }
      records.push_back(std::move(r));
    }
  }
  // Within one seq (a rename's two sides) the journal order stands.
  std::stable_sort(records.begin(), records.end(),
                   [](const Record& a, const Record& b) { return a.seq < b.seq; });
  return records;
}

CrashState Reconstruct(const Tree& baseline, const std::vector<Record>& records, const Tree& live,
                       Unsynced unsynced, UnsyncedOps ops, Rng& rng) {
  CrashState out;
  // Directories: the last durable listing, then the changes made since.
  std::map<std::string, Listing> durable = baseline.dirs;
  std::map<std::string, uint64_t> synced_at;
  std::map<uint64_t, InodeHistory> inodes;
  for (const Record& r : records) {
    if (r.kind == 'S') {
      durable[r.dir] = r.entries;
      synced_at[r.dir] = r.seq;
      for (const auto& [name, entry] : r.entries) {
        InodeHistory& h = inodes[entry.ino];
        if (h.first_seen == 0) h.first_seen = r.seq;
      }
      continue;
    }
    InodeHistory& h = inodes[r.ino];
    if (h.first_seen == 0) h.first_seen = r.seq;
    switch (r.kind) {
      case 'N':
      case 'D':
        h = InodeHistory{r.seq, false, false, "", false, "", h.first_seen};
        break;
      case 'F':
        h.synced = true;
        h.too_big = r.too_big;
        h.durable = r.data;
        break;
      case 'C':
        h.has_preimage = !r.too_big;
        h.preimage = r.data;
        break;
      default:
        break;
    }
  }
  std::map<std::string, std::vector<const Record*>> pending;  // by directory, in seq order
  for (const Record& r : records) {
    if (std::string("NDLU").find(r.kind) == std::string::npos) continue;
    auto it = synced_at.find(r.dir);
    if (it == synced_at.end() || r.seq > it->second) pending[r.dir].push_back(&r);
  }
  std::map<std::string, Listing> result = durable;
  for (const auto& [dir, list] : pending) {
    const size_t n = list.size();
    const uint64_t draw = rng.Next();
    size_t keep = ops == UnsyncedOps::kUndo ? 0 : ops == UnsyncedOps::kKeep ? n : draw % (n + 1);
    auto live_dir = live.dirs.find(dir);
    if (keep == n && live_dir != live.dirs.end()) {
      result[dir] = live_dir->second;  // what the page cache holds, seen or not
    } else {
      Listing& l = result[dir];
      for (size_t i = 0; i < keep; ++i) {
        const Record& r = *list[i];
        if (r.kind == 'U') {
          l.erase(r.name);
        } else {
          l[r.name] = {r.ino, r.type};
        }
      }
    }
    // The distinct listings the cuts give, for the size of the state space.
    std::set<Listing> listings;
    Listing l = durable[dir];
    listings.insert(l);
    for (size_t i = 0; i < n; ++i) {
      if (list[i]->kind == 'U') {
        l.erase(list[i]->name);
      } else {
        l[list[i]->name] = {list[i]->ino, list[i]->type};
      }
      listings.insert(l);
    }
    if (live_dir != live.dirs.end()) listings.insert(live_dir->second);
    out.dir_choices = SaturatingProduct(out.dir_choices, listings.size());
    out.ops_kept += static_cast<int>(keep);
    for (size_t i = keep; i < n; ++i) {
      out.ops_undone.push_back((list[i]->kind == 'U' ? "-" : "+") + Join(dir, list[i]->name));
    }
  }
  // Directories without unsynced changes that the live tree has: as they are.
  for (const auto& [dir, listing] : live.dirs) {
    if (!pending.count(dir) && !durable.count(dir)) result[dir] = listing;
  }

  // The tree from the root; each file's inode.
  std::vector<std::pair<std::string, uint64_t>> files;  // path, inode
  std::vector<std::string> stack = {"."};
  while (!stack.empty()) {
    const std::string dir = stack.back();
    stack.pop_back();
    for (const auto& [name, entry] : result[dir]) {
      const std::string path = Join(dir, name);
      if (entry.type == 'd') {
        out.dirs.insert(path);
        stack.push_back(path);
      } else {
        files.emplace_back(path, entry.ino);
      }
    }
  }
  // Decide per inode, in an order that does not depend on inode numbers or
  // process ids: baseline files by path first, then by first appearance.
  std::map<uint64_t, std::string> first_path;
  for (const auto& [path, ino] : files) {
    auto [it, fresh] = first_path.emplace(ino, path);
    if (!fresh && path < it->second) it->second = path;
  }
  std::vector<std::tuple<uint64_t, std::string, uint64_t>> order;  // first_seen, path, ino
  for (const auto& [ino, path] : first_path) {
    auto h = inodes.find(ino);
    order.emplace_back(h == inodes.end() ? 0 : h->second.first_seen, path, ino);
  }
  std::sort(order.begin(), order.end());
  std::map<uint64_t, std::string> chosen;
  for (const auto& [first_seen, path, ino] : order) {
    (void)first_seen;
    const uint64_t mode_draw = rng.Next();
    const uint64_t cut_draw = rng.Next();
    auto h = inodes.find(ino);
    auto live_content = live.content.find(ino);
    auto base_content = baseline.content.find(ino);
    const bool created = h != inodes.end() && h->second.created != 0;
    const bool synced = h != inodes.end() && h->second.synced;
    // What the page cache holds.
    std::string now;
    if (live_content != live.content.end()) {
      now = live_content->second;
    } else if (h != inodes.end() && h->second.has_preimage) {
      now = h->second.preimage;
    } else if (synced) {
      now = h->second.durable;
    } else if (base_content != baseline.content.end() && !created) {
      now = base_content->second;
    }
    // What the disk holds.
    std::string disk;
    bool known = true;
    if (synced && !h->second.too_big) {
      disk = h->second.durable;
    } else if (created) {
      disk = "";
    } else if (base_content != baseline.content.end()) {
      disk = base_content->second;
    } else {
      known = false;  // never seen synced or created: nothing to go by
    }
    if (!known || (synced && h->second.too_big) || disk == now) {
      chosen[ino] = now;
      continue;
    }
    std::set<std::string> contents = {disk, now};
    for (size_t k = 0; k <= now.size(); ++k) {
      contents.insert(now.substr(0, k) + (k < disk.size() ? disk.substr(k) : ""));
    }
    out.file_choices = SaturatingProduct(out.file_choices, contents.size());
    Unsynced mode = unsynced;
    if (mode == Unsynced::kAny) mode = static_cast<Unsynced>(mode_draw % 3);
    std::string result_content;
    if (mode == Unsynced::kDrop) {
      result_content = disk;
    } else if (mode == Unsynced::kKeep) {
      result_content = now;
    } else {
      const size_t k = static_cast<size_t>(cut_draw % (now.size() + 1));
      result_content = now.substr(0, k) + (k < disk.size() ? disk.substr(k) : "");
    }
    if (result_content == now) {
      out.kept.push_back(path);
    } else if (result_content == disk) {
      out.rolled_back.push_back(path);
    } else {
      out.torn.push_back(path);
    }
    chosen[ino] = std::move(result_content);
  }
  for (const auto& [path, ino] : files) out.files[path] = chosen[ino];
  return out;
}

CrashState Flatten(const Tree& tree) {
  CrashState out;
  for (const auto& [dir, listing] : tree.dirs) {
    for (const auto& [name, entry] : listing) {
      const std::string path = Join(dir, name);
      if (entry.type == 'd') {
        out.dirs.insert(path);
      } else {
        auto c = tree.content.find(entry.ino);
        out.files[path] = c == tree.content.end() ? "" : c->second;
      }
    }
  }
  return out;
}

std::string Apply(const std::string& root, const Tree& live, const CrashState& state) {
  const CrashState now = Flatten(live);
  auto fail = [&](const std::string& what, const std::string& path) {
    return what + " " + root + "/" + path + ": " + std::strerror(errno);
  };
  for (const auto& [path, content] : now.files) {
    if (!state.files.count(path) && unlink((root + "/" + path).c_str()) != 0 && errno != ENOENT) {
      return fail("unlink", path);
    }
  }
  // Deepest first, so that each is empty when its turn comes.
  for (auto it = now.dirs.rbegin(); it != now.dirs.rend(); ++it) {
    if (state.dirs.count(*it)) continue;
    std::error_code ec;
    std::filesystem::remove_all(root + "/" + *it, ec);
    if (ec) return "remove " + root + "/" + *it + ": " + ec.message();
  }
  for (const std::string& dir : state.dirs) {  // parents sort before children
    if (now.dirs.count(dir)) continue;
    std::error_code ec;
    std::filesystem::remove(root + "/" + dir, ec);  // a file of that name
    if (mkdir((root + "/" + dir).c_str(), 0755) != 0 && errno != EEXIST) return fail("mkdir", dir);
  }
  for (const auto& [path, content] : state.files) {
    auto it = now.files.find(path);
    if (it != now.files.end() && it->second == content) continue;
    const std::string full = root + "/" + path;
    int fd = open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return fail("write", path);
    size_t done = 0;
    while (done < content.size()) {
      ssize_t n = write(fd, content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(fd);
        return fail("write", path);
      }
      done += static_cast<size_t>(n);
    }
    close(fd);
  }
  return "";
}

}  // namespace faultline::faults::power
