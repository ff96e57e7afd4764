// Named pipelines: the pipelines behind commands (`effopt fuse`; quantize and
// prune later), in one table (named_pipelines.cpp), as pipeline text. Any
// pipeline can use one as `@name` (pipeline.h): `convert-opset{to=17},@fuse`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace effopt::pass {

struct NamedPipeline {
  std::string name;     // `@name` in pipelines; also the command that runs it
  std::string summary;
  std::string text;     // pipeline text (pipeline.h); "" = no pass yet
};

const std::vector<NamedPipeline>& named_pipelines();
// nullptr if there is none of that name.
const NamedPipeline* find_named_pipeline(const std::string& name);

// `effopt fuse`'s pipeline: convert-opset{to=N} first when `opset` is not 0,
// then fix-shapes{shapes=...} when `shapes` is not empty (NAME=DIMS entries,
// as --shape takes them), then `@fuse`. Never raises the opset by itself.
std::string fuse_pipeline_text(int64_t opset, const std::vector<std::string>& shapes);

// `effopt quantize`'s pipeline: the same convert-opset / fix-shapes prefix as
// fuse, then `@quantize` (the preparation group and the quantize pass) with
// the quantize pass's options set to `quantize_options` ("key=value ...", as
// the command's flags give them; "" = defaults).
std::string quantize_pipeline_text(int64_t opset, const std::vector<std::string>& shapes,
                                   const std::string& quantize_options);

}  // namespace effopt::pass
