"""youngvae.bench.flops: the FLOP count of the VAE, by hand at 16 px and at paper scale."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from youngvae.bench import flops as bench  # noqa: E402


def test_flop_accounting_matches_a_hand_count_at_16px():
    from youngvae.vae.model import build_vae

    vae = build_vae(16, 1)
    # 2 x multiply-adds: conv = out_h*out_w*kh*kw*cin*cout, transposed conv = in_h*in_w*..., dense = in*out
    hand = {
        "encoder/conv1": 2 * 16 * 16 * 9 * 1 * 32,
        "encoder/conv2": 2 * 8 * 8 * 9 * 32 * 64,  # stride 2: 8x8 outputs
        "encoder/conv3": 2 * 8 * 8 * 9 * 64 * 64,
        "encoder/conv4": 2 * 8 * 8 * 9 * 64 * 64,
        "encoder/dense": 2 * (8 * 8 * 64) * 32,
        "encoder/z_mean": 2 * 32 * 1,
        "encoder/z_log_var": 2 * 32 * 1,
        "decoder/dense": 2 * 1 * (8 * 8 * 64),
        "decoder/deconv": 2 * 8 * 8 * 9 * 64 * 32,
        "decoder/image": 2 * 16 * 16 * 9 * 32 * 1,
    }
    assert {r["layer"]: r["flops"] for r in bench.layer_flops(vae)} == hand
    assert bench.forward_flops_per_sample(vae) == sum(hand.values())
    # train step = forward + 2 x forward (input and weight gradients) - conv1's input gradient
    assert bench.train_flops_per_sample(vae) == 3 * sum(hand.values()) - hand["encoder/conv1"]


def test_flops_at_paper_scale_are_about_11_gflop_per_training_sample():
    from youngvae.vae.model import build_vae

    vae = build_vae(256, 1)
    assert 3.7e9 < bench.forward_flops_per_sample(vae) < 3.85e9
    assert 11.1e9 < bench.train_flops_per_sample(vae) < 11.4e9
