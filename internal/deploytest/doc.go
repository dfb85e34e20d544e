// Package deploytest proves the deployment files of deploy/ by running them:
// real connecthub processes receiving real signals, Debian's nginx started
// with the shipped configuration (ports and paths rendered for the test),
// upgrades from an older build of this repository, and the container image
// in podman. It holds only tests; this file names the package.
package deploytest
