FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY adapters ./adapters
COPY config ./config
RUN pip install --no-cache-dir .
ENV PALM_CONFIG=/etc/palm/palm.yaml
EXPOSE 8080
CMD ["palm", "run"]
