import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What {@link createTestCertificates} issues. */
export interface TestCertificateOptions {
  /**
   * Names the server certificate is valid for (`subjectAltName`): IP addresses as `IP:…`,
   * host names as `DNS:…`.
   * @default ['IP:127.0.0.1', 'DNS:localhost']
   */
  readonly subjectAltNames?: readonly string[];
  /** Validity of every certificate, in days. @default 2 */
  readonly days?: number;
}

/**
 * A throwaway certificate authority and the certificates it signed, as PEM files in a fresh
 * temp dir (paths, for `redis-server`) and as PEM text (for `tls.connect` options).
 */
export interface TestCertificates {
  /** The temp dir holding every file; removed by {@link remove}. */
  readonly dir: string;
  /** Path of the CA certificate (`ca.crt`). */
  readonly caFile: string;
  /**
   * Path of the server certificate (`server.crt`), valid for the `subjectAltNames`, as a server
   * and as a client (Redis Cluster nodes present it to each other).
   */
  readonly serverCertFile: string;
  /** Path of the server's private key (`server.key`). */
  readonly serverKeyFile: string;
  /** Path of a client certificate (`client.crt`), for servers that authenticate clients. */
  readonly clientCertFile: string;
  /** Path of the client's private key (`client.key`). */
  readonly clientKeyFile: string;
  /** The CA certificate as PEM text: `tls: { ca }` trusts the server. */
  readonly ca: string;
  /** The client certificate as PEM text: `tls: { cert, key }` presents it. */
  readonly clientCert: string;
  /** The client's private key as PEM text. */
  readonly clientKey: string;
  /** Deletes the temp dir (keys included). Idempotent. */
  remove(): Promise<void>;
}

// EC P-256 keys: generated in milliseconds, where RSA 2048 takes a noticeable fraction of a second
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * Issues a throwaway CA, a server certificate for loopback and a client certificate with
 * `openssl` (which must be on the `PATH`) in a fresh temp dir. Nothing is committed or cached:
 * every call makes new keys. Call `remove()` when done.
 */
export async function createTestCertificates(options: TestCertificateOptions = {}): Promise<TestCertificates> {
  const names = options.subjectAltNames ?? ['IP:127.0.0.1', 'DNS:localhost'];
  const days = String(options.days ?? 2);
  const dir = await mkdtemp(join(tmpdir(), 'nautilus-tls-'));
  const file = (name: string): string => join(dir, name);
  try {
    await openssl([
      'req',
      '-x509',
      ...KEY_ARGS,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
      '-days',
      days,
      '-subj',
      '/CN=Nautilus test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    // clientAuth too: Redis Cluster nodes present their server certificate to each other on the
    // cluster bus (and replicas to their master), and the bus always checks client certificates
    await issue(file, 'server', days, `subjectAltName=${names.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
    await issue(file, 'client', days, 'extendedKeyUsage=clientAuth\n');
    // the CA key has signed what it had to: no reason to leave it around
    await rm(file('ca.key'), { force: true });
    const [ca, clientCert, clientKey] = await Promise.all(
      ['ca.crt', 'client.crt', 'client.key'].map((name) => readFile(file(name), 'utf8')),
    );
    return {
      dir,
      caFile: file('ca.crt'),
      serverCertFile: file('server.crt'),
      serverKeyFile: file('server.key'),
      clientCertFile: file('client.crt'),
      clientKeyFile: file('client.key'),
      ca: ca as string,
      clientCert: clientCert as string,
      clientKey: clientKey as string,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A key and a certificate for `name`, signed by the CA in the same dir. */
async function issue(file: (name: string) => string, name: string, days: string, extensions: string): Promise<void> {
  const extFile = file(`${name}.ext`);
  await writeFile(
    extFile,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n${extensions}`,
  );
  await openssl([
    'req',
    '-new',
    ...KEY_ARGS,
    '-keyout',
    file(`${name}.key`),
    '-out',
    file(`${name}.csr`),
    '-subj',
    `/CN=nautilus-test-${name}`,
  ]);
  await openssl([
    'x509',
    '-req',
    '-in',
    file(`${name}.csr`),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-set_serial',
    `0x${Date.now().toString(16)}${name === 'server' ? '1' : '2'}`,
    '-days',
    days,
    '-extfile',
    extFile,
    '-out',
    file(`${name}.crt`),
  ]);
}

function openssl(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args[0] ?? ''} failed: ${stderr || error.message}`, { cause: error }));
      else resolve();
    });
  });
}
