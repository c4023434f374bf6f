#include "sim/trace_writer.h"

#include <openssl/evp.h>

#include <fmt/format.h>

namespace faultline {

// OpenSSL's EVP SHA-256 (libssl-dev): a well-kept implementation rather than
// one of our own.
struct TraceWriter::Hasher {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Hasher() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~Hasher() { EVP_MD_CTX_free(ctx); }
  void Update(const std::string& s) { EVP_DigestUpdate(ctx, s.data(), s.size()); }
  std::string HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
    return hex;
  }
};

TraceWriter::TraceWriter(const std::string& path, Observer observer)
    : file_(std::fopen(path.c_str(), "we")),
      hasher_(std::make_unique<Hasher>()),
      observer_(std::move(observer)) {}

TraceWriter::~TraceWriter() {
  if (file_) std::fclose(file_);
}

void TraceWriter::Append(int64_t t, const std::string& proc, nlohmann::json event) {
  nlohmann::json line = {{"seq", seq_++}, {"t", t}, {"proc", proc}};
  for (auto& [k, v] : event.items()) {
    if (k != "seq" && k != "t" && k != "proc") line[k] = std::move(v);
  }
  // Strings a system under test made (file names, command output) may be no
  // UTF-8: they are written with U+FFFD in place of the bad bytes rather
  // than ending the run (valid text is written unchanged).
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  hasher_->Update(text);
  if (file_ && std::fwrite(text.data(), 1, text.size(), file_) != text.size()) failed_ = true;
  if (observer_) observer_(line);
}

void TraceWriter::Flush() {
  if (file_ && std::fflush(file_) != 0) failed_ = true;
}

std::string TraceWriter::Finish() {
  if (file_) {
    if (std::fclose(file_) != 0) failed_ = true;
    file_ = nullptr;
  }
  return hasher_->HexDigest();
}

}  // namespace faultline
