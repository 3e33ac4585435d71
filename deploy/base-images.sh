#!/usr/bin/env bash
# Makes the two base images the Dockerfile builds on, without a registry (SPEC 11.1):
#   docker.io/library/debian:bookworm       debootstrap --variant=minbase bookworm
#   docker.io/library/debian:bookworm-slim  the same with apt lists, docs, man pages,
#                                           locales and caches left out
# The root filesystem tarballs are cached in $GATEHOUSE_IMAGE_CACHE
# (/var/cache/gatehouse-images), so only the first run on a machine pays for debootstrap.
# The Debian mirror is the first one apt on this machine uses.
set -euo pipefail

cache=${GATEHOUSE_IMAGE_CACHE:-/var/cache/gatehouse-images}
full=$cache/bookworm-minbase.tar
slim=$cache/bookworm-slim.tar
log() { echo "base-images: $*" >&2; }

have_image() { podman image exists "$1"; }

if have_image docker.io/library/debian:bookworm && have_image docker.io/library/debian:bookworm-slim \
   && [ -z "${GATEHOUSE_REIMPORT:-}" ]; then
  log "both base images already present"
  exit 0
fi

apt_mirror() {
  local m=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    m=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
  fi
  if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
    m=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' \
          /etc/apt/sources.list)
  fi
  [ -n "$m" ] || { log "no Debian mirror found in apt's sources"; return 1; }
  echo "$m"
}

if [ ! -s "$full" ] || [ ! -s "$slim" ]; then
  mkdir -p "$cache"
  work=$(mktemp -d "$cache/.rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  mirror=$(apt_mirror)
  log "debootstrap --variant=minbase bookworm from $mirror (first run only; cached in $cache)"
  start=$(date +%s)
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  # The image's apt talks to the same mirror the machine does.
  printf 'deb %s bookworm main\n' "$mirror" >"$work/rootfs/etc/apt/sources.list"
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/log/"*.log
  tar --numeric-owner -C "$work/rootfs" -cf "$full.tmp" .
  # Slim: what debian:bookworm-slim leaves out (apt lists, docs, man pages, locales).
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/usr/share/doc/"* \
         "$work/rootfs/usr/share/man/"* "$work/rootfs/usr/share/info/"* \
         "$work/rootfs/usr/share/locale/"* "$work/rootfs/var/cache/apt/"*.bin \
         "$work/rootfs/var/cache/debconf/"*-old
  tar --numeric-owner -C "$work/rootfs" -cf "$slim.tmp" .
  mv "$full.tmp" "$full"
  mv "$slim.tmp" "$slim"
  log "root filesystems made in $(( $(date +%s) - start )) s"
fi

podman import --change 'CMD ["/bin/bash"]' "$full" docker.io/library/debian:bookworm >/dev/null
podman import --change 'CMD ["/bin/bash"]' "$slim" docker.io/library/debian:bookworm-slim >/dev/null
log "imported docker.io/library/debian:bookworm and :bookworm-slim"
