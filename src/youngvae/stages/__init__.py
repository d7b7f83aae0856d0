"""What the rules call: one module per workflow/rules/*.smk (dataset.smk's figures apart, in
dataset_figures, so the simulation env needs no plotting libraries); thin glue over the layers."""
