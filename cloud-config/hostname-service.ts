// The HostnameService port: the host's static hostname, read and set through the system's
// hostname service rather than by writing /etc/hostname behind its back.

export interface HostnameService {
  staticHostname(): Promise<string>;
  setStaticHostname(name: string): Promise<void>;
}
