#!/bin/bash
# arm64-sysroot.sh SYSROOT: makes the arm64 sysroot the cross-compiled
# guichetd links against and runs in under qemu-aarch64: Debian 12's arm64
# OpenCV (the modules guichetd links), zxing-cpp and pcsclite, with their
# runtime dependencies, and the headers and .pc files to build against.
#
# Debian's libopencv-dev is not Multi-Arch: same, so installing its arm64
# build would remove the amd64 one the native build needs (apt-get -s shows
# it). The arm64 packages are therefore downloaded with apt-get download and
# unpacked with dpkg-deb -x into SYSROOT; dpkg's database is not touched,
# apart from the foreign architecture arm64, added so that apt knows the
# arm64 packages. SYSROOT/.complete lists what is in it; delete SYSROOT to
# make it again.
set -euo pipefail
sysroot=${1:?usage: arm64-sysroot.sh SYSROOT}
[ -f "$sysroot/.complete" ] && { echo "arm64 sysroot: $sysroot"; exit 0; }

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	dpkg --add-architecture arm64
fi
if ! apt-cache show libopencv-core406:arm64 >/dev/null 2>&1; then
	apt-get update -qq
fi

# The OpenCV modules guichetd links (readelf -d of a build linked with
# --as-needed), flann which features2d needs, and the C libraries.
modules="core imgproc imgcodecs videoio objdetect dnn calib3d features2d flann photo video highgui"
runtime="libopencv-contrib406 libzxing2 libpcsclite1 libc6 libstdc++6 libgcc-s1"
for m in $modules; do runtime="$runtime libopencv-$m"406; done
# Headers and .so links, without their dependencies: every module's -dev,
# since opencv2/opencv.hpp includes the header of each module that
# opencv_modules.hpp lists.
dev="libopencv-dev libzxing-dev libpcsclite-dev $(apt-cache search --names-only '^libopencv-.*-dev$' | awk '{print $1}' | grep -v -e '^libopencv-java' -e '^libopencv4.5-java' | tr '\n' ' ')"

# The runtime closure: what apt would install for arm64, read off a
# simulation (nothing is installed).
closure=$(apt-get -s install --no-install-recommends $(for p in $runtime; do echo "$p:arm64"; done) 2>/dev/null |
	awk '$1 == "Inst" && $2 ~ /:arm64$/ {print $2}' | sed 's/:arm64$//')
[ -n "$closure" ] || { echo "arm64-sysroot: apt found nothing to fetch for $runtime" >&2; exit 1; }

debs=/var/cache/guichet/arm64-debs
mkdir -p "$debs"
cd "$debs"
want=()
for p in $closure $dev; do want+=("$p:arm64"); done
echo "arm64 sysroot: fetching ${#want[@]} packages into $debs"
# apt-get download skips nothing: fetch only what is not here yet.
missing=()
for p in "${want[@]}"; do
	n=${p%:arm64}
	ls "$debs/${n}_"*_arm64.deb >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}"
fi

tmp="$sysroot.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
for p in "${want[@]}"; do
	n=${p%:arm64}
	deb=$(ls "$debs/${n}_"*_arm64.deb | sort -V | tail -n1)
	dpkg-deb -x "$deb" "$tmp"
done
# Absolute symbolic links point at the build machine's /; make them
# point inside the sysroot.
find "$tmp" -type l -lname '/*' | while read -r l; do
	in=${l#"$tmp"}
	ln -sfn "$(realpath -ms --relative-to="$(dirname "$in")" "$(readlink "$l")")" "$l"
done
# What the packages' maintainer scripts would have made: the BLAS and
# LAPACK links that update-alternatives chooses.
for alt in blas/libblas.so.3 lapack/liblapack.so.3; do
	ln -sfn "$alt" "$tmp/usr/lib/aarch64-linux-gnu/$(basename "$alt")"
done
# opencv4.pc names all 55 modules; guichetd links only those above, whose
# runtime dependencies are the ones fetched.
pc="$tmp/usr/lib/aarch64-linux-gnu/pkgconfig/opencv4.pc"
libs=""
for m in $modules wechat_qrcode; do libs="$libs -lopencv_$m"; done
sed -i "s|^Libs: .*|Libs: -L\${exec_prefix}/lib/aarch64-linux-gnu$libs|" "$pc"
printf '%s\n' "${want[@]}" > "$tmp/.complete"
rm -rf "$sysroot"
mv "$tmp" "$sysroot"
echo "arm64 sysroot: $sysroot ($(du -sh "$sysroot" | cut -f1))"
