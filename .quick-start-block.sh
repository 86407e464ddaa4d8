export PATH="$(swift build --show-bin-path):$PATH"      # the kiln that make demo built
mkdir first && cp Examples/first-run/kiln.json first/ && cd first
kiln identity keygen --domain example.com --selector k1 --algorithm ed25519-sha256 --out k1.pem
export KILN_RETURN_PATH_SECRET="$(openssl rand -base64 32)" KILN_UNSUBSCRIBE_SECRET="$(openssl rand -base64 32)"
python3 ../scripts/smtp_sink.py 2525 received.log > sink.out &   # a loopback receiver for every provider
timeout 10 sh -c 'until grep -q listening sink.out; do sleep 0.1; done'   # wait until it listens
kiln config check --config kiln.json
kiln send --config kiln.json --from news@example.com --to ann@gmail.com --subject "Hello" --text "My first message." --wait
printf 'email,first_name\nbob@gmail.com,Bob\ncid@yahoo.com,Cid\ndee@outlook.com,Dee\n' > list.csv
printf '{"from": "news@example.com", "subject": "Hi {{first_name}}", "text": "Hello {{first_name}}."}\n' > template.json
kiln campaign run --config kiln.json --recipients list.csv --template template.json --campaign first
cat received.log                                         # one line per delivered recipient
kill %1                                                  # stop the receiver
