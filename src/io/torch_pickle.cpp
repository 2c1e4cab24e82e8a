#include "io/torch_pickle.h"

#include <cstring>
#include <deque>
#include <memory>
#include <unordered_map>

#include "core/error.h"

namespace segq {

namespace {

// Index into the unpickler's object arena. Objects refer to each other by index, so shared and
// even cyclic structures (possible through the memo) are plain data: no ownership cycles, no
// recursion when they are freed.
using Ref = uint32_t;

enum class Kind : uint8_t {
  None,
  Bool,
  Int,
  Float,
  String,
  Bytes,
  Tuple,
  List,
  Dict,
  Global,
  Storage,
  Tensor
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None:
      return "None";
    case Kind::Bool:
      return "bool";
    case Kind::Int:
      return "int";
    case Kind::Float:
      return "float";
    case Kind::String:
      return "str";
    case Kind::Bytes:
      return "bytes";
    case Kind::Tuple:
      return "tuple";
    case Kind::List:
      return "list";
    case Kind::Dict:
      return "dict";
    case Kind::Global:
      return "global";
    case Kind::Storage:
      return "storage";
    case Kind::Tensor:
      return "tensor";
  }
  return "?";
}

// The only globals a state dict may name. Calls to them are implemented here, never resolved.
enum class GlobalId : uint8_t {
  OrderedDict,
  RebuildTensorV2,   // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, grad, hooks[,
                     // meta])
  RebuildTensor,     // torch._utils._rebuild_tensor(storage, offset, size, stride)
  RebuildParameter,  // torch._utils._rebuild_parameter(tensor, requires_grad, hooks)
  RebuildParameterWithState,  // ... (tensor, requires_grad, hooks, state)
  StorageType,                // torch.FloatStorage etc.: a tag inside persistent ids only
};

struct StorageTypeInfo {
  const char* name;
  DType dtype;
};
constexpr StorageTypeInfo kStorageTypes[] = {
    {"FloatStorage", DType::F32},  {"HalfStorage", DType::F16},   {"BFloat16Storage", DType::BF16},
    {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64},   {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16},  {"CharStorage", DType::I8},    {"ByteStorage", DType::U8},
    {"BoolStorage", DType::Bool},  {"UntypedStorage", DType::U8},
};

struct Object {
  Kind kind = Kind::None;
  GlobalId global = GlobalId::OrderedDict;  // Global
  DType dtype = DType::U8;                  // Global storage type, Storage
  int64_t i = 0;           // Bool, Int; Storage: element count; Tensor: index into tensors_
  double f = 0;            // Float
  std::string s;           // String, Bytes; Global: "module.name"; Storage: key
  std::vector<Ref> items;  // Tuple, List
  std::vector<std::pair<Ref, Ref>> entries;  // Dict, in insertion order
};

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    size_t extra;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // sequence cut off
    for (size_t k = 1; k <= extra; ++k) {
      const uint8_t d = static_cast<uint8_t>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF) return false;  // overlong or out of range
    i += extra + 1;
  }
  return true;
}

constexpr int64_t kMaxElements = int64_t{1} << 50;
constexpr size_t kMaxDims = 32;

class Unpickler {
 public:
  Unpickler(std::string_view data, const TorchStorageLoader& load, const std::string& where)
      : data_(data), load_storage_(load), where_(where) {}

  std::vector<std::pair<std::string, Tensor>> run() { return extract_state_dict(interpret()); }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(str_cat(where_, ": offset ", op_pos_, ": ", what));
  }

  // ---- reading the opcode stream
  const char* take(uint64_t n) {
    if (n > data_.size() - pos_) {
      fail(str_cat("pickle truncated: needs ", n, " more bytes, ", data_.size() - pos_, " left"));
    }
    const char* p = data_.data() + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  uint64_t le(int bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(take(static_cast<uint64_t>(bytes)));
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  std::string_view line() {
    const size_t end = data_.find('\n', pos_);
    if (end == std::string_view::npos) fail("pickle truncated inside a text argument");
    std::string_view s = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }

  // ---- objects and the stack
  Ref make(Object o) {
    objects_.push_back(std::move(o));
    return static_cast<Ref>(objects_.size() - 1);
  }
  Ref make(Kind k) {
    Object o;
    o.kind = k;
    return make(std::move(o));
  }
  Ref make_int(int64_t v) {
    Object o;
    o.kind = Kind::Int;
    o.i = v;
    return make(std::move(o));
  }
  Object& obj(Ref r) { return objects_[r]; }  // deque: references stay valid as it grows

  void push(Ref r) { stack_.push_back(r); }
  Ref pop() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    const Ref r = stack_.back();
    stack_.pop_back();
    return r;
  }
  Ref top() {
    if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
    return stack_.back();
  }
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) fail("MARK expected on the stack");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Object& expect(Ref r, Kind k, const char* what) {
    Object& o = obj(r);
    if (o.kind != k) fail(str_cat(what, ": expected ", kind_name(k), ", got ", kind_name(o.kind)));
    return o;
  }
  int64_t expect_int(Ref r, const char* what) { return expect(r, Kind::Int, what).i; }

  Ref make_string(std::string_view s, Kind kind) {
    if (kind == Kind::String && !valid_utf8(s)) fail("string is not valid UTF-8");
    Object o;
    o.kind = kind;
    o.s.assign(s);
    return make(std::move(o));
  }
  Ref make_tuple(std::vector<Ref> items) {
    Object o;
    o.kind = Kind::Tuple;
    o.items = std::move(items);
    return make(std::move(o));
  }
  Ref make_long(uint64_t n) {
    if (n > 8) fail(str_cat("integer of ", n, " bytes does not fit 64 bits"));
    const auto* p = reinterpret_cast<const uint8_t*>(take(n));
    uint64_t v = 0;
    for (uint64_t k = n; k-- > 0;) v = (v << 8) | p[k];
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return make_int(static_cast<int64_t>(v));
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  Ref memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) fail(str_cat("memo entry ", index, " was never stored"));
    return it->second;
  }

  void set_items(Ref dict, const std::vector<Ref>& kv) {
    Object& d = expect(dict, Kind::Dict, "SETITEM target");
    if (kv.size() % 2 != 0) fail("SETITEMS needs key/value pairs");
    for (size_t k = 0; k < kv.size(); k += 2) {
      const Kind key_kind = obj(kv[k]).kind;
      if (key_kind == Kind::List || key_kind == Kind::Dict) fail("unhashable dict key");
      d.entries.emplace_back(kv[k], kv[k + 1]);
    }
  }

  // ---- globals: resolved against the allow-list only
  Ref global(std::string_view module, std::string_view name) {
    Object o;
    o.kind = Kind::Global;
    o.s = str_cat(module, ".", name);
    if (module == "collections" && name == "OrderedDict") {
      o.global = GlobalId::OrderedDict;
    } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
      o.global = GlobalId::RebuildTensorV2;
    } else if (module == "torch._utils" && name == "_rebuild_tensor") {
      o.global = GlobalId::RebuildTensor;
    } else if (module == "torch._utils" && name == "_rebuild_parameter") {
      o.global = GlobalId::RebuildParameter;
    } else if (module == "torch._utils" && name == "_rebuild_parameter_with_state") {
      o.global = GlobalId::RebuildParameterWithState;
    } else {
      bool found = false;
      if (module == "torch" || (module == "torch.storage" && name == "UntypedStorage")) {
        for (const StorageTypeInfo& t : kStorageTypes) {
          if (name == t.name) {
            o.global = GlobalId::StorageType;
            o.dtype = t.dtype;
            found = true;
          }
        }
      }
      if (!found) {
        fail(str_cat("refusing global '", o.s,
                     "': a state dict may only name collections.OrderedDict, torch._utils tensor "
                     "rebuild functions and torch storage types (checkpoints are never executed)"));
      }
    }
    return make(std::move(o));
  }

  // ---- calls (REDUCE), implemented for the allow-listed globals
  Ref reduce(Ref fn, Ref args_ref) {
    const Object& f = obj(fn);
    if (f.kind != Kind::Global) fail(str_cat("REDUCE: cannot call a ", kind_name(f.kind)));
    const std::vector<Ref> args = expect(args_ref, Kind::Tuple, "REDUCE arguments").items;
    const std::string name = f.s;
    auto need_args = [&](size_t lo, size_t hi) {
      if (args.size() < lo || args.size() > hi) {
        fail(str_cat(name, " called with ", args.size(), " arguments"));
      }
    };
    switch (f.global) {
      case GlobalId::OrderedDict:
        need_args(0, 0);
        return make(Kind::Dict);
      case GlobalId::RebuildTensorV2:
        need_args(6, 7);
        return rebuild_tensor(args);
      case GlobalId::RebuildTensor:
        need_args(4, 4);
        return rebuild_tensor(args);
      case GlobalId::RebuildParameter:
      case GlobalId::RebuildParameterWithState:
        need_args(f.global == GlobalId::RebuildParameter ? 3 : 4,
                  f.global == GlobalId::RebuildParameter ? 3 : 4);
        expect(args[0], Kind::Tensor, "parameter data");
        return args[0];
      case GlobalId::StorageType:
        break;
    }
    fail(str_cat("refusing to call '", name, "': storage types only tag persistent ids"));
  }

  // pid = ('storage', storage_type, key, location, numel)
  Ref persistent_load(Ref pid_ref) {
    const std::vector<Ref> pid = expect(pid_ref, Kind::Tuple, "persistent id").items;
    if (pid.size() != 5 || obj(pid[0]).kind != Kind::String || obj(pid[0]).s != "storage") {
      fail("persistent id is not ('storage', type, key, location, numel)");
    }
    const Object& type = obj(pid[1]);
    if (type.kind != Kind::Global || type.global != GlobalId::StorageType) {
      fail("persistent id: second item is not a torch storage type");
    }
    const Object& key = obj(pid[2]);
    if (key.kind != Kind::String && key.kind != Kind::Int) fail("persistent id: bad storage key");
    const std::string key_text = key.kind == Kind::String ? key.s : std::to_string(key.i);
    expect(pid[3], Kind::String, "persistent id location");
    const int64_t numel = expect_int(pid[4], "persistent id numel");
    if (numel < 0 || numel > kMaxElements)
      fail(str_cat("storage '", key_text, "': bad size ", numel));
    const DType dtype = type.dtype;

    auto it = storages_.find(key_text);
    if (it == storages_.end()) {
      Tensor t = load_storage_(key_text, dtype, static_cast<uint64_t>(numel));
      if (t.dtype() != dtype || t.numel() != numel) {
        fail(str_cat("storage '", key_text, "' loaded with the wrong type or size"));
      }
      it = storages_.emplace(key_text, std::make_shared<Tensor>(std::move(t))).first;
    } else if (it->second->dtype() != dtype || it->second->numel() != numel) {
      fail(str_cat("storage '", key_text, "' is referenced with two different types or sizes"));
    }
    Object o;
    o.kind = Kind::Storage;
    o.dtype = dtype;
    o.i = numel;
    o.s = key_text;
    return make(std::move(o));
  }

  Shape int_tuple(Ref r, const char* what) {
    const std::vector<Ref>& items = expect(r, Kind::Tuple, what).items;
    if (items.size() > kMaxDims) fail(str_cat(what, ": too many dimensions"));
    Shape out;
    for (Ref item : items) {
      const int64_t v = expect_int(item, what);
      if (v < 0 || v > kMaxElements) fail(str_cat(what, ": value ", v, " out of range"));
      out.push_back(v);
    }
    return out;
  }

  Ref rebuild_tensor(const std::vector<Ref>& args) {
    const Object& st = expect(args[0], Kind::Storage, "tensor storage");
    const std::shared_ptr<Tensor> storage = storages_.at(st.s);
    const int64_t offset = expect_int(args[1], "storage offset");
    const Shape shape = int_tuple(args[2], "tensor size");
    const Shape stride = int_tuple(args[3], "tensor stride");
    if (shape.size() != stride.size()) fail("tensor size and stride differ in length");
    if (offset < 0 || offset > kMaxElements) fail(str_cat("bad storage offset ", offset));
    int64_t numel = 1;
    for (int64_t d : shape) {
      if (d != 0 && numel > kMaxElements / d) fail("tensor too large");
      numel *= d;
    }
    Tensor out;
    if (numel == 0) {
      out = Tensor::empty(st.dtype, shape);
    } else {
      // Highest element index the view touches; every term is < 2^50, so no overflow.
      int64_t last = offset;
      for (size_t k = 0; k < shape.size(); ++k) {
        if (stride[k] != 0 && shape[k] - 1 > kMaxElements / stride[k])
          fail("tensor stride too large");
        last += (shape[k] - 1) * stride[k];
        if (last > kMaxElements) fail("tensor stride too large");
      }
      if (last >= st.i) {
        fail(str_cat("tensor ", shape_str(shape), " at offset ", offset, " with strides ",
                     shape_str(stride), " reads element ", last, " of storage '", st.s,
                     "' which has ", st.i, " elements"));
      }
      const size_t esize = dtype_size(st.dtype);
      uint8_t* base = static_cast<uint8_t*>(storage->raw()) + static_cast<size_t>(offset) * esize;
      bool contiguous = true;
      int64_t expected = 1;
      for (size_t k = shape.size(); k-- > 0;) {
        if (shape[k] != 1 && stride[k] != expected) contiguous = false;
        expected *= shape[k];
      }
      if (contiguous) {
        out = Tensor::borrow(st.dtype, shape, base, std::shared_ptr<void>(storage, storage.get()));
      } else {
        // Overlapping views (stride 0) could name far more elements than the storage holds.
        if (numel > st.i && numel > (int64_t{1} << 26)) {
          fail(str_cat("tensor ", shape_str(shape), " with strides ", shape_str(stride),
                       " expands storage '", st.s, "' of ", st.i, " elements too far"));
        }
        out = Tensor::empty(st.dtype, shape);
        copy_strided(base, shape, stride, esize, static_cast<uint8_t*>(out.raw()));
      }
    }
    tensors_.push_back(std::move(out));
    Object o;
    o.kind = Kind::Tensor;
    o.i = static_cast<int64_t>(tensors_.size() - 1);
    return make(std::move(o));
  }

  // Gathers a strided view (element strides) into a contiguous row-major buffer.
  static void copy_strided(const uint8_t* src, const Shape& shape, const Shape& stride,
                           size_t esize, uint8_t* dst) {
    const size_t nd = shape.size();
    std::vector<int64_t> index(nd, 0);
    int64_t numel = shape_numel(shape);
    int64_t src_offset = 0;
    for (int64_t n = 0; n < numel; ++n) {
      std::memcpy(dst + static_cast<size_t>(n) * esize,
                  src + static_cast<size_t>(src_offset) * esize, esize);
      for (size_t k = nd; k-- > 0;) {  // odometer increment
        if (++index[k] < shape[k]) {
          src_offset += stride[k];
          break;
        }
        src_offset -= (shape[k] - 1) * stride[k];
        index[k] = 0;
      }
    }
  }

  void build(Ref target, Ref /*state*/) {
    // torch.save pickles OrderedDict state dicts with their `_metadata` attribute as BUILD state;
    // the attribute carries only module versions, so it is dropped. Nothing else may be built.
    const Kind k = obj(target).kind;
    if (k != Kind::Dict && k != Kind::Tensor) fail(str_cat("BUILD on a ", kind_name(k)));
  }

  Ref interpret();
  std::vector<std::pair<std::string, Tensor>> extract_state_dict(Ref root);
  bool collect_tensors(const Object& dict, std::vector<std::pair<std::string, Tensor>>* out);

  std::string_view data_;
  const TorchStorageLoader& load_storage_;
  const std::string& where_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  std::deque<Object> objects_;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, std::shared_ptr<Tensor>> storages_;
};

Ref Unpickler::interpret() {
  while (true) {
    op_pos_ = pos_;
    const uint8_t op = static_cast<uint8_t>(*take(1));
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t proto = le(1);
        if (proto < 2 || proto > 5) fail(str_cat("unsupported pickle protocol ", proto));
        break;
      }
      case 0x95:  // FRAME: framing hint only
        le(8);
        break;
      case '.':  // STOP
        return pop();
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP
        pop();
        break;
      case '1':  // POP_MARK
        pop_mark();
        break;
      case '2':  // DUP
        push(top());
        break;
      case 'N':
        push(make(Kind::None));
        break;
      case 0x88:    // NEWTRUE
      case 0x89: {  // NEWFALSE
        Object o;
        o.kind = Kind::Bool;
        o.i = op == 0x88;
        push(make(std::move(o)));
        break;
      }
      case 'J':  // BININT: signed 32-bit
        push(make_int(static_cast<int32_t>(static_cast<uint32_t>(le(4)))));
        break;
      case 'K':  // BININT1
        push(make_int(static_cast<int64_t>(le(1))));
        break;
      case 'M':  // BININT2
        push(make_int(static_cast<int64_t>(le(2))));
        break;
      case 0x8a:  // LONG1
        push(make_long(le(1)));
        break;
      case 0x8b:  // LONG4
        push(make_long(le(4)));
        break;
      case 'G': {  // BINFLOAT: big-endian IEEE double
        const auto* p = reinterpret_cast<const uint8_t*>(take(8));
        uint64_t bits = 0;
        for (int k = 0; k < 8; ++k) bits = (bits << 8) | p[k];
        Object o;
        o.kind = Kind::Float;
        std::memcpy(&o.f, &bits, 8);
        push(make(std::move(o)));
        break;
      }
      case 'X': {  // BINUNICODE
        const uint64_t n = le(4);
        push(make_string(std::string_view(take(n), n), Kind::String));
        break;
      }
      case 0x8c: {  // SHORT_BINUNICODE
        const uint64_t n = le(1);
        push(make_string(std::string_view(take(n), n), Kind::String));
        break;
      }
      case 0x8d: {  // BINUNICODE8
        const uint64_t n = le(8);
        push(make_string(std::string_view(take(n), n), Kind::String));
        break;
      }
      case 'T':    // BINSTRING (protocol-2 byte string, read as text)
      case 'U': {  // SHORT_BINSTRING
        const uint64_t n = le(op == 'T' ? 4 : 1);
        push(make_string(std::string_view(take(n), n), Kind::Bytes));
        break;
      }
      case 'B':     // BINBYTES
      case 'C':     // SHORT_BINBYTES
      case 0x8e: {  // BINBYTES8
        const uint64_t n = le(op == 'B' ? 4 : op == 'C' ? 1 : 8);
        push(make_string(std::string_view(take(n), n), Kind::Bytes));
        break;
      }
      case ')':  // EMPTY_TUPLE
        push(make_tuple({}));
        break;
      case 't':  // TUPLE
        push(make_tuple(pop_mark()));
        break;
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        const size_t n = op - 0x84u;
        std::vector<Ref> items(n);
        for (size_t k = n; k-- > 0;) items[k] = pop();
        push(make_tuple(std::move(items)));
        break;
      }
      case ']':  // EMPTY_LIST
        push(make(Kind::List));
        break;
      case 'l': {  // LIST
        Object o;
        o.kind = Kind::List;
        o.items = pop_mark();
        push(make(std::move(o)));
        break;
      }
      case 'a': {  // APPEND
        const Ref v = pop();
        expect(top(), Kind::List, "APPEND target").items.push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        const std::vector<Ref> vs = pop_mark();
        std::vector<Ref>& items = expect(top(), Kind::List, "APPENDS target").items;
        items.insert(items.end(), vs.begin(), vs.end());
        break;
      }
      case '}':  // EMPTY_DICT
        push(make(Kind::Dict));
        break;
      case 'd': {  // DICT
        const std::vector<Ref> kv = pop_mark();
        const Ref d = make(Kind::Dict);
        set_items(d, kv);
        push(d);
        break;
      }
      case 's': {  // SETITEM
        const Ref v = pop();
        const Ref k = pop();
        set_items(top(), {k, v});
        break;
      }
      case 'u': {  // SETITEMS
        const std::vector<Ref> kv = pop_mark();
        set_items(top(), kv);
        break;
      }
      case 'q':  // BINPUT
        memo_put(le(1));
        break;
      case 'r':  // LONG_BINPUT
        memo_put(le(4));
        break;
      case 0x94:  // MEMOIZE
        memo_put(memo_.size());
        break;
      case 'h':  // BINGET
        push(memo_get(le(1)));
        break;
      case 'j':  // LONG_BINGET
        push(memo_get(le(4)));
        break;
      case 'c': {  // GLOBAL "module\nname\n"
        const std::string_view module = line();
        const std::string_view name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const Ref name = pop();
        const Ref module = pop();
        push(global(expect(module, Kind::String, "STACK_GLOBAL module").s,
                    expect(name, Kind::String, "STACK_GLOBAL name").s));
        break;
      }
      case 'R': {  // REDUCE
        const Ref args = pop();
        const Ref fn = pop();
        push(reduce(fn, args));
        break;
      }
      case 'b': {  // BUILD
        const Ref state = pop();
        build(top(), state);
        break;
      }
      case 'Q':  // BINPERSID
        push(persistent_load(pop()));
        break;
      case 'i':
      case 'o':
      case 0x81:
      case 0x92:
      case 0x82:
      case 0x83:
      case 0x84: {
        const char* name = op == 'i'    ? "INST"
                           : op == 'o'  ? "OBJ"
                           : op == 0x81 ? "NEWOBJ"
                           : op == 0x92 ? "NEWOBJ_EX"
                                        : "EXT";
        fail(str_cat("refusing opcode ", name,
                     ": it instantiates arbitrary classes, which a state dict never needs"));
      }
      default: {
        static const char* hex = "0123456789abcdef";
        fail(str_cat("unsupported pickle opcode 0x", hex[op >> 4], hex[op & 15],
                     " (not a torch.save state dict?)"));
      }
    }
  }
}

bool Unpickler::collect_tensors(const Object& dict,
                                std::vector<std::pair<std::string, Tensor>>* out) {
  std::unordered_map<std::string, size_t> position;
  for (const auto& [k, v] : dict.entries) {
    const Object& key = obj(k);
    const Object& value = obj(v);
    if (key.kind != Kind::String || value.kind != Kind::Tensor) continue;
    const Tensor& t = tensors_[static_cast<size_t>(value.i)];
    const auto [it, inserted] = position.emplace(key.s, out->size());
    if (inserted) {
      out->emplace_back(key.s, t);
    } else {
      (*out)[it->second].second = t;  // a repeated key replaces the value, as in Python
    }
  }
  return !out->empty();
}

std::vector<std::pair<std::string, Tensor>> Unpickler::extract_state_dict(Ref root) {
  const Object& top = obj(root);
  if (top.kind != Kind::Dict) {
    fail(str_cat("checkpoint holds a ", kind_name(top.kind), ", not a state dict"));
  }
  std::vector<std::pair<std::string, Tensor>> out;
  if (collect_tensors(top, &out)) return out;
  for (const char* wrapper : {"state_dict", "model", "module", "model_state_dict"}) {
    for (const auto& [k, v] : top.entries) {
      if (obj(k).kind == Kind::String && obj(k).s == wrapper && obj(v).kind == Kind::Dict &&
          collect_tensors(obj(v), &out)) {
        return out;
      }
    }
  }
  std::string keys;
  for (size_t n = 0; n < top.entries.size() && n < 8; ++n) {
    const Object& key = obj(top.entries[n].first);
    keys += (n ? ", " : "") + (key.kind == Kind::String ? "'" + key.s + "'" : kind_name(key.kind));
  }
  fail(str_cat("checkpoint holds no tensors (top-level dict keys: ", keys.empty() ? "none" : keys,
               ")"));
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> unpickle_torch_state_dict(
    std::string_view pickle, const TorchStorageLoader& load_storage, const std::string& where) {
  Unpickler u(pickle, load_storage, where);
  return u.run();
}

}  // namespace segq
