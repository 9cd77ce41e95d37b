// A fast 64-bit content hash for run identities (is this the same checkpoint,
// input, stats?). Not cryptographic: it guards against mistakes, not attacks.
// Eight bytes per step with a multiply-xorshift mix, so that hashing a
// multi-gigabyte checkpoint costs well under a second next to reading it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace gencast {

class Hash64 {
 public:
  void update(const void* data, size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    // Finish a partial word left by the previous call first, so that the
    // digest does not depend on how the input was split into calls.
    while (bytes > 0 && pending_bytes_ > 0) {
      push_byte(*p++);
      --bytes;
    }
    for (; bytes >= 8; bytes -= 8, p += 8) {
      uint64_t word = 0;
      std::memcpy(&word, p, 8);
      mix(word);
    }
    while (bytes-- > 0) push_byte(*p++);
  }
  void update(std::string_view text) {
    const uint64_t n = text.size();
    update(&n, sizeof n);  // length prefix: "ab"+"c" differs from "a"+"bc"
    update(text.data(), text.size());
  }
  uint64_t digest() const {
    Hash64 copy = *this;
    uint64_t tail = copy.pending_;
    copy.state_ ^= tail * 0x9e3779b97f4a7c15ULL;
    copy.state_ ^= copy.length_ + static_cast<uint64_t>(copy.pending_bytes_);
    return finalize(copy.state_);
  }
  // 16 lowercase hex digits.
  std::string hex() const {
    static const char* digits = "0123456789abcdef";
    std::string out(16, '0');
    uint64_t v = digest();
    for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = digits[v & 15];
    return out;
  }

 private:
  static uint64_t finalize(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }
  void mix(uint64_t word) {
    state_ = (state_ ^ finalize(word + 0x9e3779b97f4a7c15ULL)) * 0x100000001b3ULL;
    state_ = (state_ << 31) | (state_ >> 33);
    length_ += 8;
  }
  void push_byte(unsigned char b) {
    pending_ |= static_cast<uint64_t>(b) << (8 * pending_bytes_);
    if (++pending_bytes_ == 8) {
      const uint64_t word = pending_;
      pending_ = 0;
      pending_bytes_ = 0;
      mix(word);
    }
  }

  uint64_t state_ = 0x84222325cbf29ce4ULL;
  uint64_t length_ = 0;
  uint64_t pending_ = 0;
  int pending_bytes_ = 0;
};

}  // namespace gencast
