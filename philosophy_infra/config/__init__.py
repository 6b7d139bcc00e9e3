"""Typed, validated stack config, one module per section.

Each layer has one entry point: `config.aws.load_aws_config` (the AWS layer, `philosophy-infra:*`) and
`config.kubernetes.load_kubernetes_config` (the Kubernetes layer, `philosophy-kubernetes:*`)."""
