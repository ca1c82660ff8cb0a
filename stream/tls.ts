// TLS for the server: a PEM certificate chain and its private key, read once at start-up. With
// them the HTTP server speaks https (and so wss for WS /ingest and WS /view), and TCP ingest
// runs over TLS. A file that cannot be read, or a key that does not match the certificate, stops
// start-up with an OptionError that names the file.

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

import { OptionError } from './errors.js';

export interface TlsFiles {
  /** PEM certificate chain, leaf first. */
  cert: Buffer;
  /** PEM private key of the leaf certificate. */
  key: Buffer;
}

function readPem(file: string, description: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new OptionError(`${description} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); pass a readable PEM file with ${flag}`);
  }
}

/** Reads and checks the certificate and key; returns undefined when neither file is given. */
export function loadTlsFiles(certFile: string | undefined, keyFile: string | undefined): TlsFiles | undefined {
  if (certFile === undefined && keyFile === undefined) {
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    const missing = certFile === undefined ? '--tls-cert (tlsCertFile)' : '--tls-key (tlsKeyFile)';
    throw new OptionError(`TLS needs both a certificate and its key, but ${missing} is missing; pass both files, or neither for plain http and ws`);
  }

  const files = { cert: readPem(certFile, 'TLS certificate', '--tls-cert'), key: readPem(keyFile, 'TLS key', '--tls-key') };
  try {
    // Parses both and checks that the key belongs to the certificate.
    createSecureContext(files);
  } catch (error) {
    throw new OptionError(`TLS certificate ${certFile} and key ${keyFile} cannot be used together (${(error as Error).message}); pass a PEM certificate and the private key it was issued for`);
  }
  return files;
}
