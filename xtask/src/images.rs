//! The cluster's images, built without Docker or a registry: a root filesystem made here (a static binary, or
//! a debootstrap'ed Debian bookworm with packages installed), packed as an OCI image by `umoci`, and imported into
//! containerd's `k8s.io` namespace with `ctr images import`. Each image is cached in `<cache>/images/oci` under the
//! fingerprint of its inputs, so an unchanged image is neither rebuilt nor imported again.

use crate::cache;
use crate::cargo::cargo;
use crate::cluster::{Layout, run, write_file};
use crate::gomod;
use crate::testbed;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The sandbox image of every pod (containerd's `sandbox_image`).
pub const PAUSE: &str = "localhost/tusk-pause:dev";
/// busybox, CoreDNS and the local-path provisioner: the cluster's add-ons and the provisioner's helper pods.
pub const TOOLBOX: &str = "localhost/tusk-toolbox:dev";
/// PostgreSQL 15, Patroni, pgBackRest, PgBouncer, postgres_exporter and psql, from Debian bookworm.
pub const POSTGRES: &str = "localhost/tusk-postgres:dev";
/// A second tag of [`POSTGRES`]: a cluster's `spec.image` changed to it is a "minor update" in the end-to-end
/// tests (a new image reference rolls the instances).
pub const POSTGRES_NEXT: &str = "localhost/tusk-postgres:next";
/// The object stores of the end-to-end tests: versitygw (S3), fake-gcs-server (GCS) and Azurite (Azure) with
/// busybox; the tests deploy it with `tusk_e2e::objstore`.
pub const OBJSTORE: &str = "localhost/tusk-objstore:dev";
/// The monitoring stack of `deploy/monitoring/`: Prometheus and promtool built from their Go module with
/// Kubernetes service discovery ([`gomod::MONITORING`]), Alertmanager from Debian bookworm.
pub const MONITORING: &str = "localhost/tusk-monitoring:dev";
/// The operator.
pub const OPERATOR: &str = "localhost/tusk-operator:dev";

/// The Debian release and mirror of the images made from Debian packages.
const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";

/// An image in the cache.
pub struct Built {
    pub reference: &'static str,
    pub key: String,
    pub archive: PathBuf,
}

/// The configuration of an image.
struct ImageConfig {
    entrypoint: &'static [&'static str],
    cmd: &'static [&'static str],
    env: &'static [&'static str],
    user: &'static str,
    workdir: &'static str,
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn images_dir() -> Result<PathBuf> {
    Ok(cache::dir()?.join("images"))
}

/// Builds every image that is not in the cache.
pub fn build_all() -> Result<Vec<Built>> {
    let bin = testbed::build_set(&gomod::CLUSTER)?;
    let objstore_bin = testbed::build_set(&gomod::OBJSTORE)?;
    let monitoring_bin = testbed::build_set(&gomod::MONITORING)?;
    Ok(vec![
        pause()?,
        toolbox(&bin)?,
        postgres()?,
        objstore(&objstore_bin)?,
        monitoring(&monitoring_bin)?,
        operator()?,
    ])
}

/// Imports into containerd the images it does not have in the version of the cache.
pub fn import_all(layout: &Layout, images: &[Built]) -> Result<()> {
    let present = run(layout.ctr().args(["images", "ls", "-q"]))?;
    let markers = layout.state.join("images");
    for image in images {
        let marker = markers.join(image.reference.replace(['/', ':'], "_"));
        let imported = std::fs::read_to_string(&marker).is_ok_and(|key| key == image.key);
        if imported && present.lines().any(|line| line == image.reference) {
            continue;
        }
        let started = Instant::now();
        let (base, _tag) = image.reference.rsplit_once(':').context("no tag")?;
        run(layout
            .ctr()
            .args(["images", "import", "--base-name", base])
            .arg(&image.archive))?;
        write_file(&marker, &image.key)?;
        eprintln!(
            "xtask: imported {} in {:.1?}",
            image.reference,
            started.elapsed()
        );
    }
    run(layout
        .ctr()
        .args(["images", "tag", "--force", POSTGRES, POSTGRES_NEXT]))?;
    Ok(())
}

/// Returns the cached image of `key`, or builds it: `fill` makes the root filesystem in the directory it gets.
fn cached(
    reference: &'static str,
    key_inputs: &[&[u8]],
    config: &ImageConfig,
    fill: impl FnOnce(&Path) -> Result<()>,
) -> Result<Built> {
    let name = reference
        .trim_start_matches("localhost/")
        .split(':')
        .next()
        .unwrap_or(reference);
    let config_text = format!(
        "{:?}{:?}{:?}{}{}",
        config.entrypoint, config.cmd, config.env, config.user, config.workdir
    );
    let mut inputs: Vec<&[u8]> = key_inputs.to_vec();
    inputs.push(config_text.as_bytes());
    let key = cache::fingerprint(inputs);
    let oci = images_dir()?.join("oci");
    let archive = oci.join(format!("{name}-{key}.tar"));
    if archive.is_file() {
        return Ok(Built {
            reference,
            key,
            archive,
        });
    }
    let started = Instant::now();
    eprintln!("xtask: building the image {reference} ...");
    let work = images_dir()?.join("work").join(name);
    remove_tree(&work)?;
    let rootfs = work.join("rootfs");
    std::fs::create_dir_all(&rootfs)?;
    fill(&rootfs)?;
    pack(&rootfs, &work.join("oci"), config)?;
    std::fs::create_dir_all(&oci)?;
    // Older versions of this image go.
    for entry in std::fs::read_dir(&oci)?.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(&format!("{name}-"))
        {
            std::fs::remove_file(entry.path())?;
        }
    }
    let partial = oci.join(format!(".{name}-{key}.tar.partial"));
    run(Command::new("tar")
        .arg("-C")
        .arg(work.join("oci"))
        .arg("-cf")
        .arg(&partial)
        .arg("."))?;
    std::fs::rename(&partial, &archive)?;
    remove_tree(&work)?;
    eprintln!("xtask: built {reference} in {:.0?}", started.elapsed());
    Ok(Built {
        reference,
        key,
        archive,
    })
}

/// Packs a root filesystem as a one-layer OCI image tagged `dev` in the layout `oci`.
fn pack(rootfs: &Path, oci: &Path, config: &ImageConfig) -> Result<()> {
    let image = format!("{}:dev", oci.display());
    run(Command::new("umoci").arg("init").arg("--layout").arg(oci))?;
    run(Command::new("umoci").args(["new", "--image", &image]))?;
    run(Command::new("umoci")
        .args(["insert", "--image", &image])
        .arg(rootfs)
        .arg("/"))?;
    let mut configure = Command::new("umoci");
    configure.args(["config", "--image", &image, "--author=tusk xtask"]);
    configure.arg(format!("--config.user={}", config.user));
    configure.arg(format!("--config.workingdir={}", config.workdir));
    for variable in config.env {
        configure.arg(format!("--config.env={variable}"));
    }
    for word in config.entrypoint {
        configure.arg(format!("--config.entrypoint={word}"));
    }
    for word in config.cmd {
        configure.arg(format!("--config.cmd={word}"));
    }
    run(&mut configure)?;
    run(Command::new("umoci").arg("gc").arg("--layout").arg(oci))?;
    Ok(())
}

/// The pause image: a static C program that sleeps (images/pause/pause.c).
fn pause() -> Result<Built> {
    let source = repository().join("images/pause/pause.c");
    let code = std::fs::read(&source)?;
    let config = ImageConfig {
        entrypoint: &["/pause"],
        cmd: &[],
        env: &[],
        user: "65535:65535",
        workdir: "/",
    };
    cached(PAUSE, &[&code], &config, |rootfs| {
        run(Command::new("gcc")
            .args(["-static", "-Os", "-s", "-o"])
            .arg(rootfs.join("pause"))
            .arg(&source))?;
        Ok(())
    })
}

/// busybox (Debian's busybox-static) with every applet linked in /bin, CoreDNS and the local-path provisioner.
fn toolbox(bin: &Path) -> Result<Built> {
    let busybox =
        std::fs::read("/bin/busybox").context("/bin/busybox (Debian's busybox-static)")?;
    let coredns = std::fs::read(bin.join("coredns"))?;
    let provisioner = std::fs::read(bin.join("local-path-provisioner"))?;
    let config = ImageConfig {
        entrypoint: &[],
        cmd: &["/bin/sh"],
        env: &["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],
        user: "0:0",
        workdir: "/",
    };
    cached(
        TOOLBOX,
        &[&busybox, &coredns, &provisioner],
        &config,
        |rootfs| {
            busybox_root(rootfs, &busybox)?;
            std::fs::write(rootfs.join("bin/coredns"), &coredns)?;
            std::fs::write(rootfs.join("bin/local-path-provisioner"), &provisioner)?;
            run(Command::new("chmod")
                .arg("0755")
                .arg(rootfs.join("bin/coredns"))
                .arg(rootfs.join("bin/local-path-provisioner")))?;
            Ok(())
        },
    )
}

/// Azurite's npm release, the Azure Storage emulator of the object-store image (3.36 and later ask for Node 21+;
/// 3.35 runs on the machine's Node 20).
const AZURITE: &str = "azurite@3.35.0";

/// Azurite and its dependencies installed from npm into `<cache>/npm/<package>/node_modules`, once.
fn azurite_modules() -> Result<PathBuf> {
    let dir = cache::dir()?.join("npm").join(AZURITE.replace('@', "-"));
    let done = dir.join(".tusk-complete");
    if done.is_file() {
        return Ok(dir);
    }
    let started = Instant::now();
    eprintln!("xtask: npm install {AZURITE} ...");
    remove_tree(&dir)?;
    std::fs::create_dir_all(&dir)?;
    run(Command::new("npm")
        .args([
            "install",
            "--omit=dev",
            "--no-audit",
            "--no-fund",
            "--save-exact",
            "--prefix",
        ])
        .arg(&dir)
        .arg(AZURITE))?;
    std::fs::write(&done, "")?;
    eprintln!("xtask: installed {AZURITE} in {:.0?}", started.elapsed());
    Ok(dir)
}

/// busybox and the object-store servers of [`gomod::OBJSTORE`] (static binaries in `/bin`), and Azurite with
/// the machine's Node in `/opt/azurite` (`/bin/azurite-blob` starts it).
fn objstore(bin: &Path) -> Result<Built> {
    let azurite = azurite_modules()?;
    let lock = std::fs::read(azurite.join("package-lock.json"))?;
    let node_path = PathBuf::from("/usr/bin/node");
    let node = std::fs::read(&node_path).context("/usr/bin/node (Node.js, for Azurite)")?;
    let libraries = shared_libraries(&node_path)?;
    let container_script =
        std::fs::read(repository().join("images/tusk-objstore/azurite-container.js"))?;
    let busybox =
        std::fs::read("/bin/busybox").context("/bin/busybox (Debian's busybox-static)")?;
    let servers: Vec<(&str, Vec<u8>)> = gomod::OBJSTORE_BINARIES
        .iter()
        .map(|binary| Ok((binary.name, std::fs::read(bin.join(binary.name))?)))
        .collect::<Result<_>>()?;
    let mut inputs: Vec<&[u8]> = vec![
        &busybox,
        &lock,
        &node,
        &container_script,
        AZURITE_START.as_bytes(),
        AZURITE_CONTAINER.as_bytes(),
    ];
    inputs.extend(servers.iter().map(|(_, code)| code.as_slice()));
    let config = ImageConfig {
        entrypoint: &[],
        cmd: &["/bin/sh"],
        env: &["PATH=/bin"],
        user: "65532:65532",
        workdir: "/",
    };
    cached(OBJSTORE, &inputs, &config, |rootfs| {
        busybox_root(rootfs, &busybox)?;
        for (name, code) in &servers {
            let path = rootfs.join("bin").join(name);
            std::fs::write(&path, code)?;
            run(Command::new("chmod").arg("0755").arg(&path))?;
        }
        for library in &libraries {
            let destination = rootfs.join(library.trim_start_matches('/'));
            std::fs::create_dir_all(destination.parent().context("library path")?)?;
            std::fs::copy(library, &destination)?;
        }
        std::fs::create_dir_all(rootfs.join("opt/azurite"))?;
        std::fs::copy(&node_path, rootfs.join("opt/azurite/node"))?;
        run(Command::new("cp")
            .arg("-a")
            .arg(azurite.join("node_modules"))
            .arg(rootfs.join("opt/azurite/")))?;
        std::fs::write(
            rootfs.join("opt/azurite/azurite-container.js"),
            &container_script,
        )?;
        for (name, script) in [
            ("azurite-blob", AZURITE_START),
            ("azurite-container", AZURITE_CONTAINER),
        ] {
            let path = rootfs.join("bin").join(name);
            std::fs::write(&path, script)?;
            run(Command::new("chmod").arg("0755").arg(&path))?;
        }
        Ok(())
    })
}

/// `/bin/azurite-container NAME` of the object-store image: creates a blob container in the pod's Azurite.
const AZURITE_CONTAINER: &str =
    "#!/bin/sh\nexec /opt/azurite/node /opt/azurite/azurite-container.js \"$@\"\n";
/// `/bin/azurite-blob` of the object-store image: Azurite's blob service with its arguments.
const AZURITE_START: &str = "#!/bin/sh\nexec /opt/azurite/node /opt/azurite/node_modules/azurite/dist/src/blob/main.js \"$@\"\n";

/// A root with busybox and its applets in `/bin`, `/tmp`, and `root`/`nobody` users.
fn busybox_root(rootfs: &Path, busybox: &[u8]) -> Result<()> {
    for dir in ["bin", "etc", "tmp", "root", "var", "proc", "sys", "dev"] {
        std::fs::create_dir_all(rootfs.join(dir))?;
    }
    run(Command::new("chmod").arg("1777").arg(rootfs.join("tmp")))?;
    std::fs::write(rootfs.join("bin/busybox"), busybox)?;
    run(Command::new("chmod")
        .arg("0755")
        .arg(rootfs.join("bin/busybox")))?;
    let applets = run(Command::new("/bin/busybox").arg("--list"))?;
    for applet in applets.lines().filter(|applet| *applet != "busybox") {
        let link = rootfs.join("bin").join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", link)?;
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnobody:x:65534:\n")?;
    Ok(())
}

/// PostgreSQL and its companions on Debian bookworm: images/tusk-postgres/setup.sh run on packages.txt, in a
/// chroot of a copy of the cached debootstrap root (as the Dockerfile runs it on debian:bookworm-slim).
fn postgres() -> Result<Built> {
    let dir = repository().join("images/tusk-postgres");
    let packages = std::fs::read(dir.join("packages.txt"))?;
    let setup = std::fs::read(dir.join("setup.sh"))?;
    let config = ImageConfig {
        entrypoint: &[],
        cmd: &["postgres", "--version"],
        env: &[
            "PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG=C.UTF-8",
        ],
        user: "26",
        workdir: "/var/lib/postgresql",
    };
    let (base_key, base) = debian_base()?;
    cached(
        POSTGRES,
        &[base_key.as_bytes(), &packages, &setup],
        &config,
        |rootfs| {
            run(Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", base.display()))
                .arg(rootfs))?;
            let scripts = rootfs.join("tmp/tusk-image");
            std::fs::create_dir_all(&scripts)?;
            std::fs::write(scripts.join("packages.txt"), &packages)?;
            std::fs::write(scripts.join("setup.sh"), &setup)?;
            in_chroot(rootfs, "sh /tmp/tusk-image/setup.sh")?;
            remove_tree(&scripts)?;
            Ok(())
        },
    )
}

/// A minimal Debian bookworm root (debootstrap's minbase variant, the suites of debian:bookworm-slim), cached
/// in `<cache>/images/rootfs/`.
fn debian_base() -> Result<(String, PathBuf)> {
    let sources = format!(
        "deb {MIRROR} {SUITE} main\ndeb {MIRROR} {SUITE}-updates main\ndeb http://deb.debian.org/debian-security {SUITE}-security main\n"
    );
    let key = cache::fingerprint([
        b"debootstrap --variant=minbase".as_slice(),
        SUITE.as_bytes(),
        MIRROR.as_bytes(),
        sources.as_bytes(),
    ]);
    let roots = images_dir()?.join("rootfs");
    let root = roots.join(format!("{SUITE}-{key}"));
    if root.join("etc/debian_version").is_file() && root.join(".tusk-complete").is_file() {
        return Ok((key, root));
    }
    let started = Instant::now();
    eprintln!(
        "xtask: debootstrap {SUITE} (minbase) into {} ...",
        root.display()
    );
    remove_tree(&root)?;
    std::fs::create_dir_all(&roots)?;
    run(Command::new("debootstrap")
        .args(["--variant=minbase", SUITE])
        .arg(&root)
        .arg(MIRROR))?;
    std::fs::write(root.join("etc/apt/sources.list"), &sources)?;
    // Upgrades from the update and security suites, as in debian:bookworm-slim.
    in_chroot(
        &root,
        "export DEBIAN_FRONTEND=noninteractive; apt-get update && apt-get -y upgrade && apt-get clean && rm -rf /var/lib/apt/lists/*",
    )?;
    std::fs::write(root.join(".tusk-complete"), "")?;
    eprintln!("xtask: debootstrap done in {:.0?}", started.elapsed());
    Ok((key, root))
}

/// Runs a shell command as root in `root`, with /proc mounted in a private mount namespace (the mounts go away
/// with it) and the host's DNS configuration.
fn in_chroot(root: &Path, script: &str) -> Result<()> {
    std::fs::copy("/etc/resolv.conf", root.join("etc/resolv.conf"))?;
    let status = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--fork", "sh", "-c"])
        .arg(format!(
            "mount -t proc proc \"$0/proc\" && mount --rbind /dev \"$0/dev\" && exec chroot \"$0\" /bin/sh -c '{}'",
            script.replace('\'', "'\\''")
        ))
        .arg(root)
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8")
        .status()?;
    std::fs::write(root.join("etc/resolv.conf"), "")?;
    if !status.success() {
        bail!(
            "`{script}` failed in the chroot {} ({status})",
            root.display()
        );
    }
    Ok(())
}

/// Debian bookworm's Alertmanager package, pinned: its binary links only the C library.
const ALERTMANAGER_DEB: &str = "prometheus-alertmanager=0.25.0-1+b4";

/// Where Debian's Alertmanager reads its notification templates (from its package, copied whole).
const ALERTMANAGER_TEMPLATES: &str = "usr/share/prometheus/alertmanager";

/// The `.deb` of [`ALERTMANAGER_DEB`], fetched once with `apt-get download` into `<cache>/debs/`.
fn alertmanager_deb() -> Result<PathBuf> {
    let dir = cache::dir()?.join("debs");
    std::fs::create_dir_all(&dir)?;
    let (package, version) = ALERTMANAGER_DEB.split_once('=').context("pinned")?;
    let file = dir.join(format!(
        "{package}_{}_amd64.deb",
        version.replace(':', "%3a")
    ));
    if !file.is_file() {
        run(Command::new("apt-get")
            .args(["download", ALERTMANAGER_DEB])
            .current_dir(&dir))?;
    }
    Ok(file)
}

/// Prometheus and promtool (static, from [`gomod::MONITORING`]) and Debian's Alertmanager with the libraries
/// it links and its templates, in `/bin`; `/prometheus` and `/alertmanager` are the data directories the manifests mount.
fn monitoring(bin: &Path) -> Result<Built> {
    let deb = alertmanager_deb()?;
    let deb_bytes = std::fs::read(&deb)?;
    let servers: Vec<(&str, Vec<u8>)> = gomod::MONITORING_BINARIES
        .iter()
        .map(|binary| Ok((binary.name, std::fs::read(bin.join(binary.name))?)))
        .collect::<Result<_>>()?;
    let mut inputs: Vec<&[u8]> = vec![&deb_bytes, ALERTMANAGER_TEMPLATES.as_bytes()];
    inputs.extend(servers.iter().map(|(_, code)| code.as_slice()));
    let config = ImageConfig {
        entrypoint: &["/bin/prometheus"],
        cmd: &[],
        env: &["PATH=/bin"],
        user: "65534:65534",
        workdir: "/",
    };
    cached(MONITORING, &inputs, &config, |rootfs| {
        let unpacked = rootfs.with_file_name("deb");
        run(Command::new("dpkg").arg("-x").arg(&deb).arg(&unpacked))?;
        let alertmanager = unpacked.join("usr/bin/prometheus-alertmanager");
        for dir in ["bin", "etc", "tmp", "prometheus", "alertmanager"] {
            std::fs::create_dir_all(rootfs.join(dir))?;
        }
        run(Command::new("chmod").arg("1777").arg(rootfs.join("tmp")))?;
        for (name, code) in &servers {
            std::fs::write(rootfs.join("bin").join(name), code)?;
        }
        std::fs::copy(&alertmanager, rootfs.join("bin/alertmanager"))?;
        std::fs::create_dir_all(rootfs.join(ALERTMANAGER_TEMPLATES))?;
        run(Command::new("cp")
            .arg("-a")
            .arg(unpacked.join(ALERTMANAGER_TEMPLATES).join("."))
            .arg(rootfs.join(ALERTMANAGER_TEMPLATES)))?;
        for library in shared_libraries(&alertmanager)? {
            let destination = rootfs.join(library.trim_start_matches('/'));
            std::fs::create_dir_all(destination.parent().context("library path")?)?;
            std::fs::copy(&library, &destination)?;
        }
        run(Command::new("chmod").arg("0755").args(
            ["prometheus", "promtool", "alertmanager"].map(|name| rootfs.join("bin").join(name)),
        ))?;
        run(Command::new("chown")
            .arg("65534:65534")
            .arg(rootfs.join("prometheus"))
            .arg(rootfs.join("alertmanager")))?;
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n",
        )?;
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
        Ok(())
    })
}

/// The operator: the release `tusk` binary with the shared libraries it links and the CA certificates.
fn operator() -> Result<Built> {
    let status = cargo()
        .args(["build", "--release", "-p", "tusk", "--bin", "tusk"])
        .current_dir(repository())
        .status()?;
    if !status.success() {
        bail!("cargo build --release -p tusk failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join("target"));
    let binary_path = target.join("release/tusk");
    let binary = std::fs::read(&binary_path)?;
    let libraries = shared_libraries(&binary_path)?;
    let config = ImageConfig {
        entrypoint: &["/usr/local/bin/tusk"],
        cmd: &[],
        env: &["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
        user: "65532:65532",
        workdir: "/",
    };
    cached(
        OPERATOR,
        &[&binary, libraries.join("\n").as_bytes()],
        &config,
        |rootfs| {
            std::fs::create_dir_all(rootfs.join("usr/local/bin"))?;
            std::fs::copy(&binary_path, rootfs.join("usr/local/bin/tusk"))?;
            for library in &libraries {
                let destination = rootfs.join(library.trim_start_matches('/'));
                std::fs::create_dir_all(destination.parent().context("library path")?)?;
                // Copies the file a symbolic link such as /lib64/ld-linux-x86-64.so.2 points to.
                std::fs::copy(library, &destination)?;
            }
            std::fs::create_dir_all(rootfs.join("etc/ssl/certs"))?;
            std::fs::copy(
                "/etc/ssl/certs/ca-certificates.crt",
                rootfs.join("etc/ssl/certs/ca-certificates.crt"),
            )?;
            std::fs::create_dir_all(rootfs.join("tmp"))?;
            run(Command::new("chmod").arg("1777").arg(rootfs.join("tmp")))?;
            std::fs::write(
                rootfs.join("etc/passwd"),
                "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
            )?;
            std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnonroot:x:65532:\n")?;
            Ok(())
        },
    )
}

/// The shared libraries `ldd` lists for a binary, by absolute path (the dynamic loader included).
fn shared_libraries(binary: &Path) -> Result<Vec<String>> {
    let output = run(Command::new("ldd").arg(binary))?;
    Ok(output
        .lines()
        .filter_map(|line| {
            line.split_whitespace()
                .find(|word| word.starts_with('/'))
                .map(str::to_string)
        })
        .collect())
}

/// Removes a directory tree, unmounting first whatever is still mounted in it.
fn remove_tree(dir: &Path) -> Result<()> {
    if dir.exists() {
        crate::cluster::unmount_under(dir)?;
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    Ok(())
}
