"""A throwaway CA and server certificate, made with openssl at test time (EC P-256)."""
import os
import subprocess


def _run(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


def make_ca(d, name="ca"):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=leanmqtt test %s" % name)
    der = os.path.join(d, name + ".der")
    _run("x509", "-in", crt, "-outform", "DER", "-out", der)
    return key, crt, der


def make_server(d, ca_key, ca_crt, host="localhost", ip=None):
    # ip: an address the certificate is also for (the emulated chip dials 10.0.2.2).
    key, csr, crt = (os.path.join(d, "server" + e) for e in (".key", ".csr", ".crt"))
    ext = os.path.join(d, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:%s%s\n" % (host, ",IP:%s" % ip if ip else ""))
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=%s" % host)
    _run("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial",
         "-out", crt, "-days", "2", "-extfile", ext)
    return key, crt


def tls_broker_config(d, ip=None):
    """Makes a CA, a second (wrong) CA and a server certificate in d (for localhost, and ip
    if given); returns (mosquitto listener lines, path of the CA's DER, path of the wrong
    CA's DER)."""
    ca_key, ca_crt, ca_der = make_ca(d, "ca")
    _, _, wrong_der = make_ca(d, "wrong")
    key, crt = make_server(d, ca_key, ca_crt, ip=ip)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    return "cafile %s\ncertfile %s\nkeyfile %s\n" % (ca_crt, crt, key), ca_der, wrong_der
