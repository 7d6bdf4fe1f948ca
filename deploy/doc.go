// Package deploy holds no code: this folder holds photodesk's deployment
// files (deploy/Dockerfile, the MinIO image, NATS configuration, the
// kustomize base in k8s/, the Grafana dashboard), and the package's tests
// check them, and the repository's docker-compose.yml, against what the
// photodesk binary really reads and does: CI runs no Docker engine and no
// Kubernetes.
package deploy
