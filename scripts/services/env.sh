# shellcheck shell=bash
# Source this (". scripts/services/env.sh") to export the variables of every
# test service currently started by scripts/services/*.sh in $MEM0_RUN_DIR.
# Harmless when none is running. Works in bash and other POSIX shells.
for __mem0_env in "${MEM0_RUN_DIR:-/tmp/mem0-dify-services}"/postgres.env \
  "${MEM0_RUN_DIR:-/tmp/mem0-dify-services}"/arcadedb.env \
  "${MEM0_RUN_DIR:-/tmp/mem0-dify-services}"/neo4j.env; do
  # shellcheck disable=SC1090
  [ -f "$__mem0_env" ] && . "$__mem0_env"
done
unset __mem0_env
