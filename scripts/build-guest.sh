#!/usr/bin/env bash
# Builds the tiny test guest (Debian kernel + virtio modules + busybox + scripts/guest/init) into a
# cache folder, without installing a kernel on the host. Cached: the kernel is fetched only when
# missing, the initramfs is rebuilt only when missing or older than its inputs. Safe to run
# concurrently (flock). Prints the guest folder on success.
#
# usage: scripts/build-guest.sh [GUEST_DIR]     (default: <repo>/build/guest)
# output: GUEST_DIR/vmlinuz, GUEST_DIR/initramfs.cpio.gz
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
guest_dir=${1:-$here/../build/guest}
mkdir -p "$guest_dir"
guest_dir=$(cd "$guest_dir" && pwd)

die() { echo "build-guest: $*" >&2; exit 1; }
for tool in apt-get apt-cache dpkg-deb depmod cpio gzip flock; do
  command -v "$tool" >/dev/null || die "missing tool '$tool' (run scripts/setup.sh)"
done
busybox_bin=/bin/busybox
[ -x "$busybox_bin" ] || die "missing $busybox_bin (package busybox-static; run scripts/setup.sh)"
file_out=$(LC_ALL=C od -An -c -N4 "$busybox_bin" | tr -d ' ')
[ "$file_out" = '177ELF' ] || die "$busybox_bin is not an ELF binary"

# The test binaries of a normal and a sanitizer build may ask for the guest at the same time.
exec 9>"$guest_dir/.lock"
flock -w 600 9 || die "timed out waiting for $guest_dir/.lock"

kernel_dir=$guest_dir/kernel  # vmlinuz, modules/*.ko, load-order, version

# The modules the scenarios need; their dependencies come from modules.dep.
wanted_modules=(virtio_pci virtio_blk virtiofs virtio_net)

# Name of the versioned image package linux-image-amd64 points at (linux-image-6.1.0-NN-amd64).
resolve_image_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

fetch_kernel() {
  local pkg
  pkg=$(resolve_image_package)
  if [ -z "$pkg" ]; then
    # A fresh machine may not have package lists yet.
    echo "build-guest: apt lists do not know linux-image-amd64, running apt-get update" >&2
    apt-get update -qq >/dev/null || die "cannot obtain the guest kernel: apt-get update failed (is the Debian mirror reachable?)"
    pkg=$(resolve_image_package)
  fi
  [ -n "$pkg" ] || die "cannot obtain the guest kernel: apt-cache does not resolve linux-image-amd64 to a versioned package"

  local work=$guest_dir/fetch.tmp
  rm -rf "$work" "$kernel_dir.tmp"
  mkdir -p "$work/debs" "$work/root" "$kernel_dir.tmp/modules"
  echo "build-guest: downloading $pkg" >&2
  # Running as root, apt's _apt sandbox user cannot write here; download as root instead.
  (cd "$work/debs" && apt-get -q -o APT::Sandbox::User=root download linux-image-amd64 "$pkg" >/dev/null) ||
    die "cannot obtain the guest kernel: apt-get download $pkg failed"
  dpkg-deb -x "$work/debs/${pkg}"_*.deb "$work/root" || die "dpkg-deb -x failed"

  local version
  version=$(ls "$work/root/lib/modules" | head -n1)
  [ -n "$version" ] || die "no lib/modules in $pkg"
  cp "$work/root/boot/vmlinuz-$version" "$kernel_dir.tmp/vmlinuz" || die "no vmlinuz in $pkg"
  # The package ships no modules.dep (depmod runs at install time): generate it in the extract.
  depmod -b "$work/root" "$version" || die "depmod failed"

  local moddir=$work/root/lib/modules/$version
  declare -A deps=() seen=()
  local line mod rest
  while IFS= read -r line; do
    mod=${line%%:*}
    rest=${line#*:}
    deps[$mod]=$rest
  done < "$moddir/modules.dep"

  local order=()
  visit() {  # depth-first: dependencies before the module itself
    local m=$1 d
    [ -n "${seen[$m]:-}" ] && return
    seen[$m]=1
    for d in ${deps[$m]}; do visit "$d"; done
    order+=("$m")
  }
  local want path
  for want in "${wanted_modules[@]}"; do
    path=$(awk -F: -v w="$want" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko.*/, "", n); if (n == w) { print $1; exit } }' "$moddir/modules.dep")
    [ -n "$path" ] || die "module $want not found in $pkg"
    visit "$path"
  done

  # busybox insmod cannot read compressed modules: store them plain.
  local rel base
  : > "$kernel_dir.tmp/load-order"
  for rel in "${order[@]}"; do
    base=$(basename "$rel")
    case "$rel" in
      *.ko.xz) base=${base%.xz}; xz -dc "$moddir/$rel" > "$kernel_dir.tmp/modules/$base" ;;
      *.ko.zst) base=${base%.zst}; zstd -qdc "$moddir/$rel" > "$kernel_dir.tmp/modules/$base" ;;
      *.ko.gz) base=${base%.gz}; gzip -dc "$moddir/$rel" > "$kernel_dir.tmp/modules/$base" ;;
      *.ko) cp "$moddir/$rel" "$kernel_dir.tmp/modules/$base" ;;
      *) die "unexpected module file $rel" ;;
    esac
    echo "$base" >> "$kernel_dir.tmp/load-order"
  done
  echo "$pkg $version" > "$kernel_dir.tmp/version"
  rm -rf "$work"
  rm -rf "$kernel_dir"
  mv "$kernel_dir.tmp" "$kernel_dir"
  echo "build-guest: kernel $version, modules: $(tr '\n' ' ' < "$kernel_dir/load-order")" >&2
}

# A cache made before a module was added to wanted_modules lacks it: fetch again.
kernel_cached() {
  [ -s "$kernel_dir/vmlinuz" ] && [ -s "$kernel_dir/load-order" ] || return 1
  local want
  for want in "${wanted_modules[@]}"; do
    grep -qx "$want.ko" "$kernel_dir/load-order" || return 1
  done
}
kernel_cached || fetch_kernel
# A hard link, not a copy: the cached kernel is 8 MiB.
[ "$kernel_dir/vmlinuz" -ef "$guest_dir/vmlinuz" ] || ln -f "$kernel_dir/vmlinuz" "$guest_dir/vmlinuz"

initramfs=$guest_dir/initramfs.cpio.gz
needs_initramfs=0
[ -s "$initramfs" ] || needs_initramfs=1
for input in "$here/guest/init" "${BASH_SOURCE[0]}" "$kernel_dir/load-order"; do
  [ "$input" -nt "$initramfs" ] && needs_initramfs=1
done

if [ "$needs_initramfs" = 1 ]; then
  root=$guest_dir/initramfs.tmp
  rm -rf "$root"
  mkdir -p "$root/bin" "$root/lib/modules" "$root/dev" "$root/proc" "$root/sys" "$root/mnt" "$root/tmp"
  cp "$busybox_bin" "$root/bin/busybox"
  cp "$here/guest/init" "$root/init"
  chmod 0755 "$root/init" "$root/bin/busybox"
  cp "$kernel_dir"/modules/*.ko "$kernel_dir/load-order" "$root/lib/modules/"
  (cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) |
    gzip -9n > "$initramfs.tmp"
  mv "$initramfs.tmp" "$initramfs"
  rm -rf "$root"
fi

echo "$guest_dir"
