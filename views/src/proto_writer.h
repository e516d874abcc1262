// A small protocol-buffers encoder: varint fields (wire type 0) and length-delimited fields
// (wire type 2: strings and nested messages), all a Perfetto trace of slices needs. Messages
// are built inside out: a nested message is encoded into its own ProtoWriter first, so that
// its length is known when the parent writes it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace probeseek::proto {

class ProtoWriter {
 public:
  void clear() { buf_.clear(); }
  const std::string& bytes() const { return buf_; }
  bool empty() const { return buf_.empty(); }

  // uint32/uint64/enum/bool fields; an int32 or int64 is passed as its two's complement
  // (a negative int32 takes ten bytes, as the encoding requires).
  void varint(uint32_t field, uint64_t value) {
    key(field, 0);
    raw_varint(value);
  }
  void string(uint32_t field, std::string_view s) {
    key(field, 2);
    raw_varint(s.size());
    buf_.append(s);
  }
  void message(uint32_t field, const ProtoWriter& m) { string(field, m.buf_); }

 private:
  void key(uint32_t field, uint32_t wire_type) {
    raw_varint((static_cast<uint64_t>(field) << 3) | wire_type);
  }
  void raw_varint(uint64_t v) {
    if (v < 0x80) {  // keys and most values: one byte
      buf_.push_back(static_cast<char>(v));
      return;
    }
    char tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
      tmp[n++] = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    tmp[n++] = static_cast<char>(v);
    buf_.append(tmp, n);
  }
  std::string buf_;
};

// Field numbers, from Perfetto's protos/perfetto/trace/*.proto (google/perfetto, read at
// ec5d16b1, 2026-08-22): docs/export.md lists the files.
namespace field {
constexpr uint32_t kTracePacket = 1;  // Trace.packet
// TracePacket
constexpr uint32_t kTimestamp = 8;
constexpr uint32_t kTrustedPacketSequenceId = 10;
constexpr uint32_t kTrackEvent = 11;
constexpr uint32_t kInternedData = 12;
constexpr uint32_t kSequenceFlags = 13;
constexpr uint32_t kTrackDescriptor = 60;
// TracePacket.SequenceFlags
constexpr uint64_t kSeqIncrementalStateCleared = 1;
constexpr uint64_t kSeqNeedsIncrementalState = 2;
// TrackEvent
constexpr uint32_t kEventCategoryIids = 3;
constexpr uint32_t kEventType = 9;
constexpr uint32_t kEventNameIid = 10;
constexpr uint32_t kEventTrackUuid = 11;
constexpr uint64_t kTypeSliceBegin = 1;
constexpr uint64_t kTypeSliceEnd = 2;
// InternedData; EventName and EventCategory are both {iid = 1, name = 2}
constexpr uint32_t kInternedEventCategories = 1;
constexpr uint32_t kInternedEventNames = 2;
constexpr uint32_t kInternedIid = 1;
constexpr uint32_t kInternedName = 2;
// TrackDescriptor
constexpr uint32_t kTrackUuid = 1;
constexpr uint32_t kTrackName = 2;
constexpr uint32_t kTrackProcess = 3;
constexpr uint32_t kTrackThread = 4;
// ProcessDescriptor
constexpr uint32_t kProcessPid = 1;
constexpr uint32_t kProcessName = 6;
// ThreadDescriptor
constexpr uint32_t kThreadPid = 1;
constexpr uint32_t kThreadTid = 2;
constexpr uint32_t kThreadName = 5;
}  // namespace field

}  // namespace probeseek::proto
