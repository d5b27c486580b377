#include "intercept/stream_substituter.h"

#include <cstring>

#include "base/secret.h"

namespace ferry {

StreamSubstituter::StreamSubstituter(std::vector<Replacement> pairs) {
  for (auto& p : pairs) {
    if (p.from.empty()) continue;
    bool seen = false;
    for (const auto& q : pairs_) seen = seen || q.from == p.from;
    if (seen) continue;
    pairs_.push_back(std::move(p));
  }
  for (auto& p : pairs) {  // moved-from or skipped: both may hold a secret's bytes
    cleanse_string(p.from);
    cleanse_string(p.to);
  }
  int distinct = 0;
  first_two_.assign(65536 / 64, 0);
  auto set_pair = [&](unsigned a, unsigned b) {
    const unsigned bit = a << 8 | b;
    first_two_[bit / 64] |= uint64_t(1) << (bit % 64);
  };
  for (const auto& p : pairs_) {
    const auto a = static_cast<unsigned char>(p.from[0]);
    if (p.from.size() == 1)
      for (unsigned b = 0; b < 256; ++b) set_pair(a, b);
    else set_pair(a, static_cast<unsigned char>(p.from[1]));
  }
  for (const auto& p : pairs_) {
    const auto b = static_cast<unsigned char>(p.from.front());
    if (!first_byte_[b]) {
      first_byte_[b] = true;
      ++distinct;
      single_first_byte_ = b;
    }
    longest_ = std::max(longest_, p.from.size());
    length_preserving_ = length_preserving_ && p.from.size() == p.to.size();
  }
  if (distinct != 1) single_first_byte_ = -1;
}

WipedReplacements::~WipedReplacements() {
  for (auto& p : pairs_) {
    cleanse_string(p.from);
    cleanse_string(p.to);
  }
}

StreamSubstituter::~StreamSubstituter() {
  // `to` is a real token when substituting, `from` when scrubbing; the held
  // tail may be the start of either.
  for (auto& p : pairs_) {
    cleanse_string(p.from);
    cleanse_string(p.to);
  }
  cleanse_string(held_);
}

bool StreamSubstituter::may_start_at(std::string_view data, size_t i) const {
  if (i + 1 >= data.size()) return first_byte_[static_cast<unsigned char>(data[i])];  // the second byte is not here yet
  const unsigned bit = unsigned(static_cast<unsigned char>(data[i])) << 8 | static_cast<unsigned char>(data[i + 1]);
  return (first_two_[bit / 64] >> (bit % 64)) & 1;
}

size_t StreamSubstituter::next_candidate(std::string_view data, size_t from) const {
  if (single_first_byte_ >= 0) {
    while (from < data.size()) {
      const void* hit = std::memchr(data.data() + from, single_first_byte_, data.size() - from);
      if (!hit) return data.size();
      const size_t i = size_t(static_cast<const char*>(hit) - data.data());
      if (may_start_at(data, i)) return i;
      from = i + 1;
    }
    return data.size();
  }
  const auto* d = reinterpret_cast<const unsigned char*>(data.data());
  for (size_t i = from; i + 1 < data.size(); ++i) {
    const unsigned bit = unsigned(d[i]) << 8 | d[i + 1];
    if ((first_two_[bit / 64] >> (bit % 64)) & 1) return i;
  }
  if (from < data.size() && first_byte_[d[data.size() - 1]]) return data.size() - 1;
  return data.size();
}

size_t StreamSubstituter::process(std::string_view data, bool final, std::string& out) const {
  size_t emitted = 0;  // data[0, emitted) is already in `out`
  size_t pos = next_candidate(data, 0);
  while (pos < data.size()) {
    const std::string_view rest = data.substr(pos);
    const Replacement* best = nullptr;
    bool undecided = false;
    for (const auto& p : pairs_) {
      if (rest.size() >= p.from.size()) {
        if (std::memcmp(rest.data(), p.from.data(), p.from.size()) == 0 && (!best || p.from.size() > best->from.size()))
          best = &p;
      } else if (!final && std::memcmp(rest.data(), p.from.data(), rest.size()) == 0) {
        // A longer pattern may still match here once more bytes arrive, and
        // the longest match wins: this position cannot be decided yet.
        undecided = true;
      }
    }
    if (undecided) {
      out.append(data.substr(emitted, pos - emitted));
      return pos;
    }
    if (best) {
      out.append(data.substr(emitted, pos - emitted));
      out.append(best->to);
      emitted = pos + best->from.size();
      pos = next_candidate(data, emitted);
    } else {
      pos = next_candidate(data, pos + 1);
    }
  }
  out.append(data.substr(emitted));
  return data.size();
}

void StreamSubstituter::feed(std::string_view in, std::string& out) {
  if (pairs_.empty()) {
    out.append(in);
    return;
  }
  if (!held_.empty()) {
    // Decide the held positions with at most `longest_` more bytes: those
    // suffice to decide each of them, so only a small piece is copied.
    const size_t take = std::min(in.size(), longest_);
    held_.append(in.substr(0, take));
    const size_t held_before = held_.size() - take;
    const size_t done = process(held_, false, out);
    if (done < held_before || in.size() == take) {
      // Still undecided, or all of `in` is in held_ now.
      if (done < held_before) held_.append(in.substr(take));
      held_.erase(0, done);
      return;
    }
    // Decided into `in`: continue there, past what a match already consumed.
    in.remove_prefix(done - held_before);
    cleanse_string(held_);
  }
  const size_t done = process(in, false, out);
  held_.assign(in.substr(done));
}

void StreamSubstituter::finish(std::string& out) {
  if (held_.empty()) return;
  process(held_, true, out);
  cleanse_string(held_);
}

std::string StreamSubstituter::replace_all(std::string_view in, const std::vector<Replacement>& pairs) {
  std::string out;
  size_t i = 0;
  while (i < in.size()) {
    const Replacement* best = nullptr;
    for (const auto& p : pairs) {
      if (p.from.empty() || in.substr(i, p.from.size()) != p.from) continue;
      if (!best || p.from.size() > best->from.size()) best = &p;  // first of equals wins
    }
    if (best) {
      out += best->to;
      i += best->from.size();
    } else {
      out += in[i++];
    }
  }
  return out;
}

}  // namespace ferry
