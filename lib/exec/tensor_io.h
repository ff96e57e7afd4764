// Tensor files for the executor's inputs and outputs: serialized
// onnx.TensorProto (`.pb`, the layout of ONNX's test_data_set folders) read
// and written, and NumPy `.npy` files read (v1, v2 and v3 headers, C order,
// the dtypes that have an ONNX element type). Also the memory check every
// reader and generator of input tensors makes before allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "exec/tensor_value.h"
#include "support/error.h"

namespace effopt::exec {

// A serialized TensorProto. `what` names the data in messages (the file).
// Fails (IO) on bytes that are not a TensorProto, external data, strings,
// and types the executor cannot hold. `name` receives TensorProto.name.
Expected<TensorValue> parse_tensor_proto(std::span<const std::byte> bytes, const std::string& what,
                                         std::string* name = nullptr);
Expected<TensorValue> read_tensor_pb(const std::string& path, std::string* name = nullptr);
// TensorProto with raw_data (dims, data_type, name when not empty).
Expected<std::string> serialize_tensor_proto(const TensorValue& v, const std::string& name = "");
// Writes atomically ("-" = stdout).
Status write_tensor_pb(const std::string& path, const TensorValue& v, const std::string& name = "");

// A .npy file: '<f4', '<f8', '<f2', '|b1', '|i1', '|u1', '<i2', '<u2', '<i4',
// '<u4', '<i8', '<u8', '<c8', '<c16' (big-endian '>' forms are byte-swapped).
// Fortran order, object/string/structured dtypes and truncated data are
// refused (IO error naming the file and the reason).
Expected<TensorValue> parse_npy(std::span<const std::byte> bytes, const std::string& what);
Expected<TensorValue> read_npy(const std::string& path);

// Bytes of physical memory on this machine (0 if unknown).
uint64_t physical_memory_bytes();
// IO error when `bytes` cannot fit in this machine's memory, naming `what`.
Status check_fits_in_memory(uint64_t bytes, const std::string& what);

}  // namespace effopt::exec
