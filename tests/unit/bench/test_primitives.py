"""youngvae.bench.primitives: oneDNN's execution log parsed and summed per primitive."""

import pytest

from youngvae.bench import primitives as P

LOG = [
    "onednn_verbose,v1,info,oneDNN v3.7.3 (commit N/A)",
    "onednn_verbose,v1,primitive,exec,cpu,convolution,jit_bf16:avx512_core_bf16,backward_weights,"
    "src:bf16::blocked:acdb::f0 wei:bf16::blocked:abcd::f0,,alg:convolution_direct,mb32_ic64oc64,9.0",
    P.MARK_BEGIN,
    "onednn_verbose,v1,primitive,exec,cpu,convolution,jit_bf16:avx512_core_bf16,backward_weights,"
    "src:bf16::blocked:acdb::f0 wei:bf16::blocked:abcd::f0,,alg:convolution_direct,mb32_ic64oc64,54.25",
    "some TensorFlow chatter",
    "onednn_verbose,v1,primitive,create:cache_hit,cpu,convolution,brg_conv_fwd:avx512_core_bf16,"
    "forward_training,src:bf16::blocked:acdb::f0,attr-post-ops:eltwise_relu,alg:convolution_direct,mb32_ic64oc64,0.01",
    "onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core_bf16,forward_training,"
    "src:bf16::blocked:acdb::f0,attr-post-ops:eltwise_relu,alg:convolution_direct,mb32_ic64oc64,35.5",
    "onednn_verbose,v1,primitive,exec,cpu,convolution,jit_bf16:avx512_core_bf16,backward_weights,"
    "src:bf16::blocked:acdb::f0 wei:bf16::blocked:abcd::f0,,alg:convolution_direct,mb32_ic64oc64,53.75",
    "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:bf16::blocked:cdba::f0,,,64x64x3x3,0.25",
    f"{P.MARK_END} 0.2",
    "onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:bf16::blocked:cdba::f0,,,64x64x3x3,7.0",
]


def test_only_the_marked_steps_executions_are_kept_with_their_fields():
    records, seconds = P.parse_verbose(LOG)
    assert seconds == pytest.approx(0.2)
    assert [r["ms"] for r in records] == [54.25, 35.5, 53.75, 0.25]  # no create, no lines outside
    assert records[0] == {"kind": "convolution", "impl": "jit_bf16:avx512_core_bf16",
                          "prop": "backward_weights", "shape": "mb32_ic64oc64", "ms": 54.25}


def test_summary_groups_by_primitive_and_the_table_splits_the_step():
    records, seconds = P.parse_verbose(LOG)
    rows = P.summarize(records)
    assert rows[0]["prop"] == "backward_weights" and rows[0]["calls"] == 2
    assert rows[0]["ms"] == pytest.approx(108.0)
    md = P.primitive_table(records, seconds)
    assert "| **oneDNN total** | | | | 4 | 143.8 | 72 % |" in md
    assert "| **outside oneDNN**" in md and "| 56.2 | 28 % |" in md
    assert "(each below 0.5 ms) | | | | | 0.2 |" in md


def test_a_real_step_is_profiled_in_a_fresh_process():
    records, seconds = P.profile_train_step(image_size=16, batch=2, threads=1, warmup=1)
    assert seconds > 0
    kinds = {(r["kind"], r["prop"]) for r in records}
    assert ("convolution", "forward_training") in kinds and ("convolution", "backward_weights") in kinds
