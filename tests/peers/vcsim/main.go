// Command vcsim serves govmomi's vCenter simulator (simulator.VPX) on loopback for EIO's
// connector tests. Debian ships govmomi's simulator library but no vcsim command; this is
// the small main the tests need, built by scripts/peers/build-vcsim.
//
// It prints exactly one ready line to stdout once it accepts connections:
//
//	VCSIM_URL=https://user:pass@127.0.0.1:PORT/sdk VCSIM_THUMBPRINT=AB:CD:… VCSIM_COUNTS=dc=2,cluster=6,host=24,vm=150
//
// and stops (removing its temporary datastore folders) on SIGINT/SIGTERM or when its
// standard input closes, so a test harness that dies never leaves it running.
// The certificate is a fresh ECDSA P-256 one (govmomi's built-in test certificate is
// RSA-1024, which rustls rightly refuses); its SHA-256 thumbprint is what tests pin.
// `-rsa-bits N` presents an RSA key of N bits instead, as older vCenters and BMCs do: the
// tests check that EIO names a key under 2048 bits as the reason it refuses one.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"log"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	_ "github.com/vmware/govmomi/vapi/simulator" // tagging REST API under /rest
)

func certificate(rsaBits int) (tls.Certificate, string) {
	var key interface{}
	var public interface{}
	usage := x509.KeyUsageDigitalSignature
	if rsaBits > 0 {
		k, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			log.Fatal(err)
		}
		key, public = k, &k.PublicKey
		usage |= x509.KeyUsageKeyEncipherment
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			log.Fatal(err)
		}
		key, public = k, &k.PublicKey
	}
	tmpl := x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "vcsim.eio.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * 365 * time.Hour),
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, public, key)
	if err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256(der)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, strings.Join(hexes, ":")
}

func main() {
	model := simulator.VPX()
	flag.IntVar(&model.Datacenter, "dc", model.Datacenter, "datacenters")
	flag.IntVar(&model.Cluster, "cluster", model.Cluster, "clusters per datacenter")
	flag.IntVar(&model.ClusterHost, "host", model.ClusterHost, "hosts per cluster")
	flag.IntVar(&model.Host, "standalone-host", model.Host, "standalone hosts per datacenter")
	flag.IntVar(&model.Machine, "vm", model.Machine, "virtual machines per resource pool (per cluster and per standalone host)")
	flag.IntVar(&model.Datastore, "ds", model.Datastore, "datastores")
	flag.IntVar(&model.Portgroup, "pg", model.Portgroup, "distributed port groups per datacenter")
	flag.IntVar(&model.Folder, "folder", model.Folder, "datacenters placed inside a folder")
	flag.IntVar(&model.Pool, "pool", model.Pool, "extra resource pools per cluster")
	flag.BoolVar(&model.Autostart, "autostart", model.Autostart, "power on the model's VMs")
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: a free port)")
	username := flag.String("username", "user", "the only user that may log in")
	password := flag.String("password", "pass", "its password")
	rsaBits := flag.Int("rsa-bits", 0, "present an RSA key of this many bits (0: ECDSA P-256)")
	verbose := flag.Bool("v", false, "keep the simulator's own log (on stderr)")
	flag.Parse()
	if !*verbose {
		log.SetOutput(ioutil.Discard)
	}

	if err := model.Create(); err != nil {
		fmt.Fprintln(os.Stderr, "vcsim: cannot create the model:", err)
		os.Exit(1)
	}
	cert, thumbprint := certificate(*rsaBits)
	model.Service.RegisterEndpoints = true
	model.Service.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	model.Service.Listen = &url.URL{Host: fmt.Sprintf("127.0.0.1:%d", *port), User: url.UserPassword(*username, *password)}
	server := model.Service.NewServer()

	c := model.Count()
	fmt.Printf("VCSIM_URL=%s VCSIM_THUMBPRINT=%s VCSIM_COUNTS=dc=%d,cluster=%d,host=%d,vm=%d,folder=%d\n",
		server.URL.String(), thumbprint, c.Datacenter, c.Cluster, c.Host, c.Machine, c.Folder)
	os.Stdout.Sync()

	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(ioutil.Discard, os.Stdin); done <- struct{}{} }()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-signals; done <- struct{}{} }()
	<-done

	server.Close()
	model.Remove()
}
